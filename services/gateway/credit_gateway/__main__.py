"""`python -m credit_gateway [serve|migrate]`."""

from __future__ import annotations

import logging

import uvicorn

from credit_common import cli
from credit_common.telemetry import configure_tracing, instrument_grpc_client
from credit_gateway import bootstrap
from credit_gateway.entrypoints.app import create_app
from credit_gateway.settings import GatewaySettings

log = logging.getLogger("credit_gateway")


async def audit_check(settings: GatewaySettings) -> int:
    """Recomputes the audit chain; exit status 1 and every break printed if it is broken."""
    gateway = bootstrap.build(settings)
    try:
        problems = await gateway.audit.verify()
    finally:
        await gateway.db.dispose()
    for problem in problems:
        print(f"BROKEN: {problem}")
    print("the query audit log is intact" if not problems else f"{len(problems)} break(s) found")
    return 1 if problems else 0


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
