"""`credit import FILE`: uploads a department's file to the bulk endpoint with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

CONTENT_TYPES = {
    ".csv": "text/csv",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Progress:
    """A one-line progress bar on a terminal (plain lines elsewhere)."""

    def __init__(self, total: int, out: IO[str]) -> None:
        self.total = max(total, 1)
        self.sent = 0
        self.out = out
        self.started = time.monotonic()
        self.last = 0.0
        self.tty = out.isatty()

    def advance(self, n: int) -> None:
        self.sent += n
        now = time.monotonic()
        if now - self.last >= (0.1 if self.tty else 2.0) or self.sent >= self.total:
            self.last = now
            self.draw(now)

    def draw(self, now: float) -> None:
        share = self.sent / self.total
        rate = self.sent / max(now - self.started, 1e-6) / 1e6
        bar = "#" * int(share * 30)
        line = f"[{bar:<30}] {share:6.1%} {self.sent / 1e6:8.1f} MB  {rate:6.1f} MB/s"
        self.out.write(("\r" + line) if self.tty else (line + "\n"))
        self.out.flush()

    def done(self, note: str) -> None:
        if self.tty:
            self.out.write("\n")
        self.out.write(note + "\n")
        self.out.flush()


def _chunks(path: Path, progress: Progress, size: int = 256 * 1024) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            progress.advance(len(chunk))
            yield chunk


def token(gateway: str, client_id: str, secret: str) -> str:
    reply = httpx.post(
        f"{gateway}/oauth/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": "records:write"},
        timeout=30,
    )
    if reply.status_code != 200:
        raise SystemExit(f"cannot get a token: {reply.status_code} {reply.text}")
    return str(reply.json()["access_token"])


def upload(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"no such file: {path}")
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise SystemExit(f"unknown file type {path.suffix!r}: use .csv, .ndjson or .xlsx")
    bearer = token(args.gateway.rstrip("/"), args.client_id, args.client_secret)
    progress = Progress(path.stat().st_size, sys.stderr)
    params: dict[str, str] = {}
    if args.item_code:
        params["item_code"] = args.item_code
    if args.atomic:
        params["atomic"] = "true"
    reply = httpx.post(
        f"{args.gateway.rstrip('/')}/v1/records/bulk",
        params=params,
        content=_chunks(path, progress),
        headers={
            "Authorization": f"Bearer {bearer}",
            "Content-Type": content_type,
            "Content-Length": str(path.stat().st_size),
        },
        timeout=httpx.Timeout(30, read=args.timeout),
    )
    progress.done("uploaded; the platform answered:")
    try:
        body = reply.json()
    except ValueError:
        print(reply.text)
        return 1
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return 0 if reply.status_code == 200 else 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "import", help="upload a CSV, NDJSON or XLSX file of records, with progress"
    )
    parser.add_argument("file")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument(
        "--item-code",
        default="",
        help="the catalog item, when the file does not name it (national codes in a header, "
        "an item_code column or NDJSON lines' item_code)",
    )
    parser.add_argument(
        "--atomic", action="store_true", help="store nothing if any row is rejected"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds to wait for the answer"
    )
    parser.set_defaults(func=lambda a: sys.exit(upload(a)))
