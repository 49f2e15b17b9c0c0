"""`credit status` and `credit client create`: an operator's view of a running platform."""

from __future__ import annotations

import argparse
import json
import sys

import httpx


def status(args: argparse.Namespace) -> int:
    """Prints whether the gateway lives and what answers it (its /readyz): each backend
    service, its own database and its Redis."""
    base = args.gateway.rstrip("/")
    try:
        live = httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        ready = httpx.get(f"{base}/readyz", timeout=10)
    except httpx.HTTPError as error:
        print(f"gateway   unreachable at {base}: {error}")
        return 1
    services = sorted(ready.json().get("services", {}).items())
    # A column as wide as the longest name, and two spaces after it.
    width = max(len(name) for name in ["gateway", *(name for name, _ in services)]) + 2
    print(f"{'gateway':<{width}}{'live' if live else 'not live'} at {base}")
    for name, state in services:
        print(f"{name:<{width}}{state}")
    return 0 if ready.status_code == 200 else 1


def create_client(args: argparse.Namespace) -> int:
    """Creates an API client through the admin API and prints its one-time secret."""
    base = args.gateway.rstrip("/")
    token = httpx.post(
        f"{base}/oauth/token",
        auth=(args.admin_id, args.admin_secret),
        data={"grant_type": "client_credentials", "scope": "admin"},
        timeout=10,
    )
    if token.status_code != 200:
        print(f"cannot authenticate as admin: {token.text}", file=sys.stderr)
        return 1
    body = {"name": args.name, "department": args.department, "scopes": args.scopes}
    if args.subject_code:
        body["subject_code"] = args.subject_code
    reply = httpx.post(
        f"{base}/v1/admin/clients",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    print(json.dumps(reply.json(), ensure_ascii=False, indent=2))
    return 0 if reply.status_code == 201 else 1


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status_parser = sub.add_parser("status", help="show whether every service answers")
    status_parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    status_parser.set_defaults(func=lambda a: sys.exit(status(a)))
    client = sub.add_parser("client", help="manage API clients").add_subparsers(
        dest="action", required=True
    )
    create = client.add_parser("create", help="create an API client (prints its secret once)")
    create.add_argument("--gateway", default="http://127.0.0.1:8080")
    create.add_argument("--admin-id", required=True)
    create.add_argument("--admin-secret", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--department", required=True)
    create.add_argument("--scopes", nargs="+", default=[])
    create.add_argument("--subject-code", default="")
    create.set_defaults(func=lambda a: sys.exit(create_client(a)))
