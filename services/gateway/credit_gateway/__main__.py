"""`python -m credit_gateway [serve|migrate]`."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from credit_common import cli
from credit_common.telemetry import configure_tracing, instrument_grpc_client
from credit_gateway import bootstrap
from credit_gateway.entrypoints.app import create_app
from credit_gateway.settings import GatewaySettings

log = logging.getLogger("credit_gateway")


async def audit_check(settings: GatewaySettings) -> int:
    """Recomputes the audit chain, and looks for the last entries earlier checks found
    (kept in `<var_dir>/gateway-audit-heads`) and for the last one the writers anchored in
    Redis: a chain cut short at its end is still whole, and only a head kept from before
    shows it. Exit status 1, every break printed, if the log is broken; the head found is
    added to the file."""
    gateway = bootstrap.build(settings)
    heads_file = settings.var_dir / "gateway-audit-heads"
    try:
        heads = _heads(heads_file)
        anchored, anchor_seen, anchor_broken = await gateway.audit.anchor_seen()
        if anchored is not None:
            heads.append(anchored)
        problems = await gateway.audit.verify()
        if anchor_broken:
            problems.append(f"the Redis anchor is {anchor_seen}")
        problems += await gateway.audit.missing_heads(heads)
        head = await gateway.audit.head()
    finally:
        await gateway.db.dispose()
        if gateway.redis is not None:
            await gateway.redis.aclose()
    for problem in problems:
        print(f"BROKEN: {problem}")
    print(f"Redis anchor: {anchor_seen}")
    print("the query audit log is intact" if not problems else f"{len(problems)} break(s) found")
    if head is not None and not problems:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        with heads_file.open("a", encoding="utf-8") as kept:
            kept.write(f"{head[0]} {head[1]}\n")
        print(f"last entry: {head[0]} {head[1]} (added to {heads_file})")
    return 1 if problems else 0


def _heads(path: Path) -> list[tuple[int, str]]:
    """The heads earlier checks kept (`<seq> <hash>` a line)."""
    if not path.exists():
        return []
    heads = []
    for line in path.read_text(encoding="utf-8").splitlines():
        seq, _, digest = line.strip().partition(" ")
        if seq.isdigit() and digest:
            heads.append((int(seq), digest))
    return heads


async def rotate_key(settings: GatewaySettings) -> None:
    """Adds a new token signing key; tokens signed with older keys keep verifying."""
    gateway = bootstrap.build(settings)
    try:
        key = await gateway.keys.rotate()
    finally:
        await gateway.db.dispose()
    print(f"new signing key {key.kid}")


def _serve(settings: GatewaySettings) -> None:
    if configure_tracing("gateway"):
        instrument_grpc_client()
    app = create_app(bootstrap.build(settings))
    # No access log: paths can carry identity numbers, which never go to a log.
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        access_log=False,
        log_config=None,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


def main() -> None:
    cli.run(
        "gateway",
        GatewaySettings,
        migrate=bootstrap.migrate,
        serve=_serve,
        commands={
            "audit-check": cli.Command(audit_check, "verify the query audit log's hash chain"),
            "rotate-key": cli.Command(rotate_key, "add a new token signing key"),
        },
    )


if __name__ == "__main__":
    main()
