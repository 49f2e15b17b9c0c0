"""`credit status` prints one aligned row per thing the gateway's /readyz names."""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import pytest

from credit_launcher import operate

READY = {
    "database": "ready",
    "lists": "ready",
    "objections": "unavailable",
    "records": "ready",
    "redis": "ready",
    "registry": "ready",
}


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway that lives, with the objections service down (so /readyz is 503)."""

    def get(url: str, **_: Any) -> httpx.Response:
        if url.endswith("/healthz"):
            return httpx.Response(200, json={"status": "ok"})
        assert url.endswith("/readyz"), url
        return httpx.Response(503, json={"status": "not_ready", "services": READY})

    monkeypatch.setattr(operate.httpx, "get", get)


def test_status_separates_every_name_from_its_state(
    gateway: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = operate.status(argparse.Namespace(gateway="http://gw.test/"))
    lines = capsys.readouterr().out.splitlines()
    assert code == 1  # not every service answers
    rows = [line.split() for line in lines[1:]]
    assert rows == [[name, state] for name, state in sorted(READY.items())]
    assert lines[0] == "gateway     live at http://gw.test"
    # One column: every state starts at the same place, two spaces past the longest name.
    starts = {len(line) - len(line.split()[-1]) for line in lines[1:]}
    assert starts == {len("objections") + 2}
