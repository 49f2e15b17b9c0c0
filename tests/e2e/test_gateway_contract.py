"""The OpenAPI document matches the behaviour: schemathesis, a property-based run over every
route of a real gateway (a uvicorn process in front of real services), finds no 5xx and no
answer that contradicts the document (status codes, content types, bodies, headers, 405s
with their Allow header, schema-violating requests refused).

Left out: `positive_data_acceptance`, which expects every schema-valid request to succeed.
The document cannot say that a code's check character is wrong, that a subject exists, or
that a transition is allowed now; those are 404, 409 and 422 by design."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credit_gateway.domain.access import SCOPES as ALL_SCOPES
from e2e.conftest import ADMIN_ID, ADMIN_SECRET
from support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.slow

# Every scope but the subject's own (it needs a subject) and the lower read levels.
SCOPES = sorted(ALL_SCOPES - {"subject:self", "credit:shared", "credit:authorized"})


def _post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer: dict[str, object] = json.loads(reply.read())
        return answer


def _token(base: str, client_id: str, secret: str) -> str:
    form = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
    reply = _post(
        f"{base}/oauth/token",
        form.encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    return str(reply["access_token"])


@pytest.fixture
def gateway_url(
    registry_process: ServiceProcess,
    records_process: ServiceProcess,
    lists_process: ServiceProcess,
    objections_env: dict[str, str],
    make_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path: Path,
) -> Iterator[str]:
    from support.processes import start_objections

    objections = start_objections(
        {**objections_env, "LISTS_ADDRESS": lists_process.address}, tmp_path, free_port()
    )
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "CREDIT_GATEWAY_DATABASE_URL": make_database_url("gw"),
            "CREDIT_GATEWAY_HTTP_PORT": str(port),
            "CREDIT_GATEWAY_REDIS_URL": redis_url,
            "CREDIT_GATEWAY_REGISTRY_ADDRESS": registry_process.address,
            "CREDIT_GATEWAY_RECORDS_ADDRESS": records_process.address,
            "CREDIT_GATEWAY_LISTS_ADDRESS": lists_process.address,
            "CREDIT_GATEWAY_OBJECTIONS_ADDRESS": objections.address,
            "CREDIT_GATEWAY_VAR_DIR": str(tmp_path),
            # The run sends thousands of requests from one client and one address.
            "CREDIT_GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
            "CREDIT_GATEWAY_RATE_LIMIT_BURST": "100000",
            "CREDIT_GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "100000",
            "CREDIT_GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "100000",
            "CREDIT_ADMIN_CLIENT_ID": ADMIN_ID,
            "CREDIT_ADMIN_CLIENT_SECRET": ADMIN_SECRET,
        }
    )
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "credit_gateway"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert gateway.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gateway not ready:\n" + log.read_text()
            time.sleep(0.1)
        yield base
    finally:
        gateway.terminate()
        gateway.wait(15)
        objections.stop()


def test_a_property_based_run_over_every_route_finds_no_contradiction(
    gateway_url: str, tmp_path: Path
) -> None:
    admin = _token(gateway_url, ADMIN_ID, ADMIN_SECRET)
    created = _post(
        f"{gateway_url}/v1/admin/clients",
        json.dumps(
            {"name": "contract", "department": "market_regulation", "scopes": SCOPES}
        ).encode(),
        {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    token = _token(gateway_url, str(created["client_id"]), str(created["client_secret"]))
    report = tmp_path / "schemathesis.txt"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{gateway_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "10",
            "--seed",
            "20261127",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its cache folder goes there, not into the checkout
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    report.write_text(run.stdout + run.stderr)
    summary = run.stdout[run.stdout.find("SUMMARY") :] if "SUMMARY" in run.stdout else run.stdout
    assert run.returncode == 0, summary[-6000:] + run.stderr[-2000:]
    assert "Tested: " in run.stdout and "Failures:" not in summary
