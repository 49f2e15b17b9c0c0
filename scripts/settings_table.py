"""Prints every setting of every service as Markdown tables, read from the settings classes.

Each row: the setting, its environment variable(s), its default and its meaning. The
meaning is the comment above the field in the settings class, else the entry of MEANINGS
below. --write puts the tables into docs/operations.md between the settings-table
markers; --check fails when that copy is stale.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
import textwrap
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "operations.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"

SERVICES = [
    ("registry", "credit_registry.settings", "RegistrySettings"),
    ("records", "credit_records.settings", "RecordsSettings"),
    ("lists", "credit_lists.settings", "ListsSettings"),
    ("objections", "credit_objections.settings", "ObjectionsSettings"),
    ("gateway", "credit_gateway.settings", "GatewaySettings"),
]

# Meanings of the fields that carry no comment in their class.
MEANINGS = {
    "environment": "`development` or `production`; production refuses placeholder secrets "
    "(values holding `dev-only`) and empty keys, secrets and database URL.",
    "database_url": "SQLAlchemy URL of the service's own database "
    "(`postgresql+psycopg://…` or `sqlite+aiosqlite:///…`); empty: a SQLite file in `var_dir`.",
    "redis_url": "Redis for the event streams (`redis://…` or `unix://…`); empty: events stay "
    "in the outbox and nothing is consumed.",
    "grpc_host": "Address the gRPC server binds; `0.0.0.0` in a container.",
    "grpc_port": "Port of the gRPC server (and of its grpc.health.v1 health service).",
    "var_dir": "Folder of the embedded SQLite file when `database_url` is empty.",
    "log_format": "`text` (readable) or `json` (one object a line, with trace id).",
    "log_level": "Python logging level.",
    "shutdown_grace_seconds": (
        "On SIGTERM, how long in-flight calls, and the batches and passes the consumers, the "
        "relay and the clock hold, may finish (the gateway: its calls)."
    ),
    "service_name": "Name of the service in logs and of its SQLite file; not meant to be changed.",
    "allocation_start": "First counter value for new organisation-code bodies.",
    "allocation_end": "Last counter value for new organisation-code bodies.",
    "pii_hmac_key": "Keyed-hash (HMAC) key of the identity-number index.",
    "max_batch": "Most items accepted in one batch call.",
    "registry_address": "host:port of the registry service.",
    "records_address": "host:port of the records service.",
    "lists_address": "host:port of the lists service.",
    "objections_address": "host:port of the objections service.",
    "registry_deadline_seconds": "Deadline of each call to the registry.",
    "backend_deadline_seconds": "Deadline of each call to another service.",
    "clock_batch": "Most due transitions the clock applies in one pass.",
    "consume_events": "Whether this process runs the event consumers.",
    "verify_workdays": "Working days to verify an accepted objection.",
    "decide_workdays": "Working days to decide a verified objection.",
    "repair_decide_workdays": "Working days to decide a credit-repair application.",
    "http_host": "Address the HTTP server binds; `0.0.0.0` in a container.",
    "http_port": "Port of the HTTP API (and of /healthz, /readyz).",
    "issuer": "`iss` of the access tokens the gateway signs.",
    "audience": "`aud` of the access tokens the gateway signs.",
    "token_ttl_seconds": "Lifetime of an access token.",
    "max_body_bytes": "Largest JSON request body (413 above).",
    "bulk_deadline_seconds": "Deadline of one bulk upload streamed to the records service.",
    "bulk_chunk_rows": "Rows per chunk streamed to the records service in a bulk upload.",
    "admin_client_id": "Client id of the admin API client ensured at start (with the secret).",
    "admin_client_secret": "Secret of the admin API client ensured at start.",
}

# Fields a service declares (itself or through the shared settings) but does not read.
UNUSED = {
    "gateway": {"grpc_host", "grpc_port", "max_batch", "metrics_port"},
}


def _comments_above(cls: type) -> dict[str, str]:
    """The comment lines directly above each field of the class body."""
    lines, _ = inspect.getsourcelines(cls)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    found: dict[str, str] = {}
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    for node in body.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment: list[str] = []
            index = node.lineno - 2  # the line above, 0-based
            while index >= 0 and lines[index].strip().startswith("#"):
                comment.insert(0, lines[index].strip().lstrip("#").strip())
                index -= 1
            if comment:
                found[node.target.id] = " ".join(comment)
    return found


def _meanings(settings: type[BaseSettings]) -> dict[str, str]:
    meanings: dict[str, str] = {}
    for cls in reversed(settings.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings:
            meanings.update(_comments_above(cls))
    return meanings


def _env_names(settings: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"{settings.model_config.get('env_prefix', '')}{name}".upper()]


def _default(value: Any) -> str:
    if value == "":
        return "(empty)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 100_000:
        return f"`{value:_}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(service: str, settings: type[BaseSettings]) -> str:
    """One service's settings as a Markdown table."""
    meanings = _meanings(settings)
    rows = [
        f"### {service} (`{settings.__module__}.{settings.__name__}`)",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in settings.model_fields.items():
        meaning = field.description or meanings.get(name) or MEANINGS.get(name, "")
        if name in UNUSED.get(service, ()):
            meaning = f"Declared but not read by the {service} today."
        if name == "database_url" or name.endswith(("_key", "_secret")):
            meaning += " Required in production."
        env = " or ".join(f"`{e}`" for e in _env_names(settings, name, field))
        default = field.get_default(call_default_factory=True)
        rows.append(f"| `{name}` | {env} | {_cell(_default(default))} | {_cell(meaning.strip())} |")
    return "\n".join(rows)


def available_services() -> list[tuple[str, type[BaseSettings]]]:
    """The services whose settings class can be imported (one may be under construction)."""
    found = []
    for service, module, name in SERVICES:
        try:
            settings = getattr(importlib.import_module(module), name)
        except ImportError:
            print(f"note: {module} is not importable; {service} left out", file=sys.stderr)
            continue
        found.append((service, settings))
    return found


def tables() -> str:
    return "\n\n".join(table(service, settings) for service, settings in available_services())


def with_tables(doc: str, generated: str) -> str:
    """The document with the text between the markers replaced by the generated tables."""
    head, start, rest = doc.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{DOC} lacks the markers {START} and {END}")
    return f"{head}{START}\n{generated}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    mode.add_argument("--check", action="store_true", help="fail when the doc is stale")
    args = parser.parse_args(argv)
    generated = tables()
    if not (args.write or args.check):
        print(generated)
        return 0
    doc = DOC.read_text()
    updated = with_tables(doc, generated)
    if args.check:
        if updated != doc:
            print(f"{DOC} has a stale settings table: run `make settings-table`")
            return 1
        return 0
    DOC.write_text(updated)
    print(f"settings table written to {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
