"""Real service processes for end-to-end tests."""

from __future__ import annotations

import atexit
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from credit_registry.settings import RegistrySettings
from support.zygote import ForkedProcess, ZygoteClient

# Service processes are forked from one pre-loaded parent (support/zygote.py) unless
# CREDIT_TEST_FORK=0 asks for a fresh interpreter each (slower, the same behaviour).
FORK = os.environ.get("CREDIT_TEST_FORK", "1") != "0"
_zygote: ZygoteClient | None = None


def zygote() -> ZygoteClient:
    global _zygote
    if _zygote is None:
        _zygote = ZygoteClient(Path(tempfile.mkdtemp(prefix="credit-zygote-")))
        atexit.register(_zygote.close)
    return _zygote


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports, outside the ephemeral range (which
    other processes' free_port() draws from)."""
    for base in random.sample(range(20_000, 30_000, count + 1), 200):
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no block of free ports")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes] | ForkedProcess
    address: str
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_healthy(
    address: str, process: subprocess.Popen[bytes] | ForkedProcess, log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{log.read_text()}")
        with grpc.insecure_channel(address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        time.sleep(0.1)
    raise TimeoutError(f"{address} not healthy:\n{log.read_text()}")


def start_service(
    module: str, prefix: str, env_values: dict[str, str], tmp: Path, *, port: int
) -> ServiceProcess:
    """Starts `python -m module` with its prefixed settings and waits until it is healthy."""
    env = dict(os.environ)
    env.update({f"{prefix}{k}": v for k, v in env_values.items()})
    env.update({f"{prefix}GRPC_PORT": str(port), f"{prefix}VAR_DIR": str(tmp)})
    log = tmp / f"{module}-{port}.log"
    process: subprocess.Popen[bytes] | ForkedProcess
    if FORK:
        process = zygote().start(module, [], env, log)
    else:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT
            )
    address = f"127.0.0.1:{port}"
    wait_healthy(address, process, log)
    return ServiceProcess(process, address, log)


def start_registry(settings: RegistrySettings, tmp: Path, *, port: int) -> ServiceProcess:
    return start_service(
        "credit_registry",
        "CREDIT_REGISTRY_",
        {"DATABASE_URL": settings.effective_database_url, "REDIS_URL": settings.redis_url},
        tmp,
        port=port,
    )


def start_objections(env: dict[str, str], tmp: Path, port: int) -> ServiceProcess:
    """The objections service with its prefixed settings (restartable on the same port)."""
    return start_service("credit_objections", "CREDIT_OBJECTIONS_", env, tmp, port=port)
