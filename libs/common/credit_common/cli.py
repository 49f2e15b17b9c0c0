"""The command line every service shares: `python -m credit_<service> [serve|migrate|...]`.

`serve` (the default) migrates first unless `--no-migrate`; `migrate` only migrates; a
service's own operator commands (seed, rekey, audit-check, rotate-key) run once and exit,
with the exit status their job returns."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from credit_common.logs import configure_logging
from credit_common.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Command(Generic[S]):
    """A one-off command: `job` over the settings; an int it returns is the exit status.
    `migrate_first`: migrate before it (unless --no-migrate), as serving does."""

    job: Callable[[S], Coroutine[object, object, int | None]]
    help: str = ""
    migrate_first: bool = False


def run(
    service: str,
    settings_type: Callable[[], S],
    *,
    migrate: Callable[[S], None],
    serve: Callable[[S], None],
    commands: Mapping[str, Command[S]] | None = None,
) -> None:
    commands = commands or {}
    parser = argparse.ArgumentParser(prog=f"credit_{service}")
    parser.add_argument(
        "command",
        choices=["serve", "migrate", *commands],
        nargs="?",
        default="serve",
        help="; ".join(f"{name}: {c.help}" for name, c in commands.items() if c.help) or None,
    )
    parser.add_argument("--no-migrate", action="store_true", help="serve without migrating first")
    args = parser.parse_args()
    settings = settings_type()
    configure_logging(service, fmt=settings.log_format, level=settings.log_level)
    command = commands.get(args.command)
    if command is not None:
        if command.migrate_first and not args.no_migrate:
            migrate(settings)
        status: int | None = asyncio.run(command.job(settings))
        if status:
            sys.exit(status)
        return
    if args.command == "migrate" or not args.no_migrate:
        migrate(settings)
        if args.command == "migrate":
            return
    serve(settings)
