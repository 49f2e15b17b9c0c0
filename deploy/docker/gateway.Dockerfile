# syntax=docker/dockerfile:1
# The gateway (HTTP on 8080). Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t credit-gateway .
# gateway.Dockerfile.dockerignore keeps every backend service's code out of the build context.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock deploy/docker/runtime_requirements.py ./
# uvloop and httptools: the gateway runs uvicorn with loop="uvloop" and http="httptools".
RUN python runtime_requirements.py uvloop httptools > runtime.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint requirements.lock --requirement runtime.txt
COPY libs/common/credit_common /app/credit_common
COPY libs/protos/credit /app/credit
COPY services/gateway/credit_gateway /app/credit_gateway
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
    CREDIT_GATEWAY_HTTP_HOST=0.0.0.0 \
    CREDIT_GATEWAY_HTTP_PORT=8080 \
    CREDIT_GATEWAY_LOG_FORMAT=json \
    CREDIT_GATEWAY_VAR_DIR=/var/lib/credit
WORKDIR /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['CREDIT_GATEWAY_HTTP_PORT'] + '/healthz', timeout=3)"]
# serve applies pending migrations first; Kubernetes runs `migrate` as a Job and serves with --no-migrate.
ENTRYPOINT ["python", "-m", "credit_gateway"]
CMD ["serve"]
