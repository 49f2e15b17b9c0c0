# syntax=docker/dockerfile:1
# The registry service (gRPC on 50051). Build from the repository root:
#   docker build -f deploy/docker/registry.Dockerfile -t credit-registry .
# registry.Dockerfile.dockerignore keeps every other service's code out of the build context.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock deploy/docker/runtime_requirements.py ./
RUN python runtime_requirements.py > runtime.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint requirements.lock --requirement runtime.txt
COPY libs/common/credit_common /app/credit_common
COPY libs/protos/credit /app/credit
COPY services/registry/credit_registry /app/credit_registry
RUN /opt/venv/bin/python -m compileall -q /app

FROM python:3.11-slim
RUN groupadd --system --gid 10001 credit \
 && useradd --system --uid 10001 --gid credit --home-dir /nonexistent --no-create-home credit \
 && install -d -o credit -g credit /var/lib/credit
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CREDIT_REGISTRY_GRPC_HOST=0.0.0.0 \
    CREDIT_REGISTRY_GRPC_PORT=50051 \
    CREDIT_REGISTRY_LOG_FORMAT=json \
    CREDIT_REGISTRY_VAR_DIR=/var/lib/credit
WORKDIR /app
USER 10001:10001
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; channel = grpc.insecure_channel('127.0.0.1:' + os.environ['CREDIT_REGISTRY_GRPC_PORT']); reply = g.HealthStub(channel).Check(h.HealthCheckRequest(), timeout=3); sys.exit(reply.status != h.HealthCheckResponse.SERVING)"]
# serve applies pending migrations first; Kubernetes runs `migrate` as a Job and serves with --no-migrate.
ENTRYPOINT ["python", "-m", "credit_registry"]
CMD ["serve"]
