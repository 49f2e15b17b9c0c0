"""Each image holds one service, runs as non-root and serves on the port of its settings.

Docker cannot build here, so the Dockerfiles are read, and their health checks are run
against real servers on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import grpc
import pytest
from deploy_support import DEPLOY, ROOT, SERVICES, load_module, spec_of
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

DOCKER = DEPLOY / "docker"
Instruction = tuple[str, str]


def instructions(path: Path) -> list[Instruction]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        found.append((keyword.upper(), rest.strip()))
        current = ""
    return found


def stages(path: Path) -> list[list[Instruction]]:
    """The instructions of each stage, FROM first."""
    result: list[list[Instruction]] = []
    for instruction in instructions(path):
        if instruction[0] == "FROM":
            result.append([])
        assert result, f"{path}: an instruction before FROM"
        result[-1].append(instruction)
    return result


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in rest.split():
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def allowed_sources(service: str) -> set[str]:
    return {
        "pyproject.toml",
        "requirements.lock",
        "deploy/docker/runtime_requirements.py",
        "libs/common/credit_common",
        "libs/protos/credit",
        f"services/{service}/credit_{service}",
    }


def dockerfile(service: str) -> Path:
    return DOCKER / f"{service}.Dockerfile"


@pytest.mark.parametrize("service", SERVICES)
def test_every_stage_starts_from_python_slim(service: str) -> None:
    for stage in stages(dockerfile(service)):
        assert stage[0][1].split()[0] == "python:3.11-slim"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_as_a_non_root_user(service: str) -> None:
    final = stages(dockerfile(service))[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric user lets Kubernetes verify runAsNonRoot"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_exposes_and_binds_the_port_of_the_settings(service: str) -> None:
    spec = spec_of(service)
    final = stages(dockerfile(service))[-1]
    assert [rest for keyword, rest in final if keyword == "EXPOSE"] == [str(spec.port)]
    env = env_of(final)
    kind = spec.kind.upper()
    assert env[f"{spec.prefix}{kind}_HOST"] == "0.0.0.0"
    assert env[f"{spec.prefix}{kind}_PORT"] == str(spec.port)
    assert env[f"{spec.prefix}LOG_FORMAT"] == "json"


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_copies_only_its_service_the_shared_library_and_the_protos(
    service: str,
) -> None:
    copied: set[str] = set()
    for stage in stages(dockerfile(service)):
        for keyword, rest in stage:
            assert keyword != "ADD", "ADD fetches and unpacks; COPY says what it does"
            if keyword == "COPY":
                words = rest.split()
                if words[0].startswith("--from="):
                    continue
                copied |= {w for w in words[:-1] if not w.startswith("--")}
    assert copied <= allowed_sources(service)
    assert f"services/{service}/credit_{service}" in copied
    for other in SERVICES:
        if other != service:
            assert not any(other in path for path in copied)


@pytest.mark.parametrize("service", SERVICES)
def test_the_build_context_leaves_out_every_other_service(service: str) -> None:
    lines = [
        line
        for line in (DOCKER / f"{service}.Dockerfile.dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    included = {line[1:] for line in lines if line.startswith("!")}
    assert included == allowed_sources(service)


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_the_service_module(service: str) -> None:
    final = stages(dockerfile(service))[-1]
    (entrypoint,) = [json.loads(rest) for keyword, rest in final if keyword == "ENTRYPOINT"]
    assert entrypoint == ["python", "-m", f"credit_{service}"]


def test_runtime_requirements_are_pyprojects_dependencies_all_pinned_by_the_lock() -> None:
    module = load_module(DOCKER / "runtime_requirements.py")
    requirements = module.runtime_requirements(ROOT / "pyproject.toml", ["uvloop", "httptools"])
    with (ROOT / "pyproject.toml").open("rb") as f:
        assert requirements[:-2] == tomllib.load(f)["project"]["dependencies"]
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    for requirement in requirements:
        name = requirement.split("[")[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is not pinned in requirements.lock"


# -- the health checks, run for real ------------------------------------------------------


def healthcheck(service: str) -> list[str]:
    final = stages(dockerfile(service))[-1]
    (check,) = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    command = check[check.index("CMD") + len("CMD") :].strip()
    argv: list[str] = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    return [sys.executable, *argv[1:]]


def run_check(service: str, port: int) -> int:
    spec = spec_of(service)
    env = {**os.environ, f"{spec.prefix}{spec.kind.upper()}_PORT": str(port)}
    return subprocess.run(healthcheck(service), env=env, capture_output=True, timeout=30).returncode


@pytest.fixture(scope="module")
def health_server() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, servicer
    server.stop(None)


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
def test_the_grpc_health_check_passes_only_while_the_server_is_serving(
    service: str, health_server: tuple[int, health.HealthServicer]
) -> None:
    port, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert run_check(service, port) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert run_check(service, port) != 0


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_gateway_health_check_asks_healthz_and_fails_when_nobody_answers() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert run_check("gateway", server.server_port) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert run_check("gateway", server.server_port) != 0
