"""Objections benchmarks on PostgreSQL and Redis, through real processes.

    python -m bench.objections [--scenario all|marks|overdue] [--rate 50] [--seconds 10]
                               [--poll-every 0.1] [--objections 100000]

marks:   filings at a fixed rate (open loop) through the gateway; for each, the time from
         sending the filing until a public read of the record through the gateway shows
         `under_objection: true` (records hears of it through the outbox, the relay and a
         Redis stream), polled every --poll-every seconds (an upper bound within that).
         Those reads load the records service and the registry themselves, so the bench
         also reports, from the two databases, when each objection.filed event was written
         (objections' outbox), published (the relay) and applied (records' processed_events;
         from then on every read at every level shows the mark), and the CPU each service
         spent per filing. --poll-every 0 measures without the reads; --watch-every N watches
         one filing in N (all of them are filed at the rate).
overdue: N objections stored (a third open, due dates spread around today), then the
         first page of the overdue listing, straight from the objections service over
         gRPC and through the gateway, with the query plan.

Targets (issue 5): marks p99 <= 1 s at 50 filings/s; overdue listing <= 50 ms. The load
generator shares the machine's cores with every service and PostgreSQL; the figures
include that contention. A summary goes to bench/results/objections-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import redis
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.registry import NO_RATE_LIMITS
from credit.objections.v1 import objections_pb2 as ob
from credit.objections.v1 import objections_pb2_grpc as ob_grpc
from credit_objections.adapters import tables

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
SERVICES = ("registry", "records", "objections", "gateway")
ADMIN = ("bench-admin", "bench-admin-secret-0123456789")
TARGET_MARK_P99_MS = 1000.0
TARGET_OVERDUE_MS = 50.0


def log(message: str = "") -> None:
    print(message, flush=True)


def recreate(name: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 1),
        "p90": round(percentile(ms, 90), 1),
        "p99": round(percentile(ms, 99), 1),
        "max": round(max(ms), 1),
    }


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class Stack:
    processes: list[subprocess.Popen[bytes]]
    addresses: dict[str, str]
    gateway: str
    databases: dict[str, str]

    @property
    def objections_db(self) -> str:
        return self.databases["objections"]

    def cpu(self) -> dict[str, float]:
        return {n: cpu_seconds(p.pid) for n, p in zip(SERVICES, self.processes, strict=True)}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait(check: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not become healthy")


def _grpc_healthy(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _http_healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def start_stack(logs: Path) -> Stack:
    redis.Redis.from_url(REDIS_URL).flushdb()
    ports = {name: free_port() for name in SERVICES}
    addresses = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    databases = {name: recreate(f"credit_bench_obj_{name}") for name in SERVICES}
    dead_lists = f"127.0.0.1:{free_port()}"
    processes = []
    for name in SERVICES:
        prefix = f"CREDIT_{name.upper()}_"
        env = {
            **os.environ,
            f"{prefix}DATABASE_URL": databases[name],
            f"{prefix}REDIS_URL": REDIS_URL,
            f"{prefix}VAR_DIR": str(logs),
            f"{prefix}REGISTRY_ADDRESS": addresses["registry"],
            f"{prefix}RECORDS_ADDRESS": addresses["records"],
            f"{prefix}LISTS_ADDRESS": dead_lists,
            f"{prefix}OBJECTIONS_ADDRESS": addresses["objections"],
        }
        if name == "gateway":
            env.update(
                {
                    f"{prefix}HTTP_PORT": str(ports[name]),
                    "CREDIT_ADMIN_CLIENT_ID": ADMIN[0],
                    "CREDIT_ADMIN_CLIENT_SECRET": ADMIN[1],
                    **NO_RATE_LIMITS,
                }
            )
        else:
            env[f"{prefix}GRPC_PORT"] = str(ports[name])
        with (logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", f"credit_{name}"], env=env, stdout=out, stderr=out
            )
        processes.append(process)
        address = addresses[name]
        if name == "gateway":
            _wait(lambda a=address: _http_healthy(f"http://{a}"), process, name)  # type: ignore[misc]
        else:
            _wait(lambda a=address: _grpc_healthy(a), process, name)  # type: ignore[misc]
        log(f"  {name:<10} up on {addresses[name]}")
    return Stack(processes, addresses, f"http://{addresses['gateway']}", databases)


async def bearer(http: httpx.AsyncClient, scopes: list[str], department: str) -> dict[str, str]:
    async def token(client_id: str, secret: str) -> str:
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        reply = await http.post("/oauth/token", data=data)
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    admin = {"Authorization": f"Bearer {await token(*ADMIN)}"}
    body = {"name": "bench", "department": department, "scopes": scopes}
    created = (await http.post("/v1/admin/clients", json=body, headers=admin)).json()
    return {
        "Authorization": f"Bearer {await token(created['client_id'], created['client_secret'])}"
    }


def penalty(code: str, ref: str) -> dict[str, Any]:
    return {
        "subject_code": code,
        "item_code": "admin_penalty",
        "source_ref": ref,
        "decided_on": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "fields": {
            "violation_type": "超范围经营",
            "violation_facts": "超出核准登记的经营范围从事经营活动",
            "legal_basis": "《市场主体登记管理条例》第四十六条",
            "penalty_kinds": ["fine"],
            "penalty_content": "罚款人民币1万元",
            "fine_amount": 1.0,
            "severity": "general",
            "deciding_authority": "上海市浦东新区市场监督管理局",
        },
    }


async def prepare_records(http: httpx.AsyncClient, count: int) -> list[str]:
    registrar = await bearer(http, ["registry:write"], "market_regulation")
    market = await bearer(http, ["records:write"], "market_regulation")
    record_ids: list[str] = []
    for s in range((count + 49) // 50):
        subject = {
            "kind": "organization",
            "name": f"异议压测{s:04d}有限公司",
            "registration_authority": "9",
            "org_category": "1",
            "division_code": "310115",
        }
        code = (await http.post("/v1/subjects", json=subject, headers=registrar)).json()["code"]
        for n in range(min(50, count - len(record_ids))):
            reply = await http.post(
                "/v1/records", json=penalty(code, f"压测{s}-{n}"), headers=market
            )
            reply.raise_for_status()
            record_ids.append(reply.json()["record_id"])
    return record_ids


async def marks(
    stack: Stack, rate: float, seconds: float, poll: float, track_every: int = 1
) -> dict[str, Any]:
    """Filing → `under_objection` visible through the gateway, at a fixed filing rate;
    every `track_every`-th filing is watched (the watching reads are load too)."""
    count = int(rate * seconds)
    limits = httpx.Limits(max_connections=100, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30, limits=limits) as http:
        log(f"  preparing {count} records ...")
        record_ids = await prepare_records(http, count)
        window = await bearer(http, ["objections:file"], "development_reform")
        latencies: list[float] = []
        filing: list[float] = []
        failures: list[str] = []

        async def one(record_id: str, watched: bool) -> None:
            started = time.monotonic()
            body = {"target": {"kind": "record", "id": record_id}, "reason": "压测异议"}
            try:
                reply = await http.post("/v1/objections", json=body, headers=window)
            except httpx.TransportError as error:
                failures.append(f"filing: {error!r}")
                return
            if reply.status_code != 201:
                failures.append(reply.text[:200])
                return
            filing.append(time.monotonic() - started)
            while watched and time.monotonic() - started < 30:
                try:
                    seen = (await http.get(f"/v1/records/{record_id}")).json()
                except httpx.TransportError:  # a keep-alive connection the server closed
                    continue
                if seen.get("under_objection"):
                    latencies.append(time.monotonic() - started)
                    return
                await asyncio.sleep(poll)
            if watched:
                failures.append(f"{record_id} not marked within 30 s")

        idle_before = stack.cpu()
        await asyncio.sleep(5.0)
        idle = {n: (c - idle_before[n]) / 5.0 for n, c in stack.cpu().items()}
        log(f"  filing {count} objections at {rate:g}/s ...")
        cpu_before = stack.cpu()
        cpu_started = time.monotonic()
        tasks = []
        begin = time.monotonic()
        for i, record_id in enumerate(record_ids):
            await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
            watched = bool(poll) and i % track_every == 0
            tasks.append(asyncio.create_task(one(record_id, watched)))
        await asyncio.gather(*tasks)
        offered = len(record_ids) / (time.monotonic() - begin)
        await asyncio.sleep(2.0)  # let the records service catch up before counting
        cpu_after = stack.cpu()
        busy = time.monotonic() - cpu_started
    delivered = delivery(stack)
    # Without polling, "applied" is when any read would first show the mark.
    marked = summary_ms(latencies) if latencies else delivered["applied_ms"]
    return {
        "rate": rate,
        "poll_every_s": poll,
        "watched_filings": len(latencies),
        "watched_one_in": track_every,
        "filings": count,
        "achieved_filing_rate": round(offered, 1),
        "filing_ms": summary_ms(filing),
        "marked_ms": summary_ms(latencies) if latencies else {},
        "delivery": delivered,
        # CPU each service spent per filing beyond what it spends idle (relays, consumers).
        "cpu_ms_per_filing": {
            n: round((cpu_after[n] - cpu_before[n] - idle[n] * busy) * 1000 / count, 1)
            for n in SERVICES
        },
        "idle_cpu_percent": {n: round(idle[n] * 100, 1) for n in SERVICES},
        "failures": failures[:5],
        "failure_count": len(failures),
        "target_p99_ms": TARGET_MARK_P99_MS,
        "meets_target": not failures and marked["p99"] <= TARGET_MARK_P99_MS,
    }


def delivery(stack: Stack) -> dict[str, dict[str, float]]:
    """objection.filed from the outbox write to the relay's XADD and to records' commit."""
    events = {}
    with psycopg.connect(
        stack.databases["objections"].replace("postgresql+psycopg", "postgresql")
    ) as conn:
        for event_id, created, published in conn.execute(
            "SELECT event_id, created_at, published_at FROM outbox WHERE event_type = 'objection.filed'"
        ):
            events[event_id] = (created, published)
    with psycopg.connect(
        stack.databases["records"].replace("postgresql+psycopg", "postgresql")
    ) as conn:
        applied: dict[Any, dt.datetime] = dict(
            conn.execute("SELECT event_id, processed_at FROM processed_events").fetchall()
        )
    return {
        "published_ms": summary_ms([(p - c).total_seconds() for c, p in events.values() if p]),
        "applied_ms": summary_ms(
            [(applied[e] - c).total_seconds() for e, (c, _) in events.items() if e in applied]
        ),
    }


def load_objections(database_url: str, total: int) -> dict[str, int]:
    """Stores `total` objections straight into the service's tables: two thirds closed,
    the rest open with due dates spread from 30 days ago to 10 days ahead."""
    engine = sa.create_engine(database_url)
    rng = random.Random(20261127)
    now = dt.datetime.now(dt.UTC)
    overdue = 0
    with engine.begin() as conn:
        conn.execute(sa.delete(tables.objections))
        for start in range(0, total, 5000):
            rows = []
            for _ in range(min(5000, total - start)):
                filed = now - dt.timedelta(days=rng.uniform(0, 60))
                open_ = rng.random() < 1 / 3
                due = now + dt.timedelta(days=rng.uniform(-30, 10)) if open_ else None
                overdue += bool(due and due <= now)
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "target_kind": "record",
                        "target_id": str(uuid.uuid4()),
                        "subject_id": uuid.uuid4(),
                        "subject_key": "91310115MA1K3YJ12X",
                        "natural_person": False,
                        "state": "submitted" if open_ else "dismissed",
                        "version": 1,
                        "evidence": [],
                        "filed_by": f"cl_{rng.randrange(200):03d}",
                        "filed_department": "development_reform",
                        "filed_at": filed,
                        "due_at": due,
                        "closed_at": None if open_ else filed + dt.timedelta(days=5),
                        "updated_at": filed,
                        "reason": "压测",
                        "source_department": rng.choice(("market_regulation", "tax", "court")),
                        "accept_due": (filed + dt.timedelta(days=3)).date(),
                    }
                )
            conn.execute(sa.insert(tables.objections), rows)
        conn.exec_driver_sql("ANALYZE objections")
    engine.dispose()
    return {"objections": total, "overdue": overdue}


async def overdue(stack: Stack, total: int, requests: int = 200) -> dict[str, Any]:
    log(f"  storing {total} objections ...")
    loaded = load_objections(stack.objections_db, total)
    log(f"  {loaded['overdue']} of them overdue; timing the listing ...")
    direct: list[float] = []
    async with grpc.aio.insecure_channel(stack.addresses["objections"]) as channel:
        stub = ob_grpc.ObjectionsServiceStub(channel)
        request = ob.ListObjectionsRequest(overdue_only=True, page_size=50)
        await stub.ListObjections(request, timeout=10)  # warm up
        for _ in range(requests):
            started = time.monotonic()
            reply = await stub.ListObjections(request, timeout=10)
            direct.append(time.monotonic() - started)
        assert len(reply.objections) == 50 and all(o.overdue for o in reply.objections)
    through: list[float] = []
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as http:
        handler = await bearer(http, ["objections:handle"], "development_reform")
        await http.get("/v1/objections", params={"overdue": "true"}, headers=handler)
        for _ in range(requests):
            started = time.monotonic()
            page = await http.get("/v1/objections", params={"overdue": "true"}, headers=handler)
            through.append(time.monotonic() - started)
        assert page.status_code == 200 and len(page.json()["items"]) == 50
    engine = sa.create_engine(stack.objections_db)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN SELECT * FROM objections WHERE due_at <= now() ORDER BY due_at, id LIMIT 51"
        ).scalars()
        plan_text = [str(line) for line in plan]
    engine.dispose()
    result = {
        **loaded,
        "service_grpc_ms": summary_ms(direct),
        "gateway_http_ms": summary_ms(through),
        "plan": plan_text,
        "target_ms": TARGET_OVERDUE_MS,
        "meets_target": summary_ms(through)["p99"] <= TARGET_OVERDUE_MS,
    }
    return result


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if args.scenario in ("all", "marks"):
        log("marks: filing → under_objection visible through the gateway")
        results["marks"] = await marks(
            stack, args.rate, args.seconds, args.poll_every, args.watch_every
        )
        log(json.dumps(results["marks"], ensure_ascii=False, indent=2))
    if args.scenario in ("all", "overdue"):
        log(f"overdue: the overdue listing among {args.objections} objections")
        results["overdue"] = await overdue(stack, args.objections)
        log(json.dumps(results["overdue"], ensure_ascii=False, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.objections")
    parser.add_argument("--scenario", choices=("all", "marks", "overdue"), default="all")
    parser.add_argument("--rate", type=float, default=50.0, help="filings per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--poll-every",
        type=float,
        default=0.1,
        help="seconds between reads of a filed record through the gateway (0: no reads)",
    )
    parser.add_argument("--objections", type=int, default=100_000)
    parser.add_argument(
        "--watch-every",
        type=int,
        default=1,
        help="watch every N-th filing through the gateway (1: all; their reads load the machine)",
    )
    args = parser.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS_DIR / f"objections-{stamp}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log("starting registry, records, objections and the gateway on PostgreSQL ...")
    stack = start_stack(logs)
    try:
        results = asyncio.run(run(args, stack))
    finally:
        stack.stop()
    summary = {"when": stamp, "cpus": os.cpu_count(), **results}
    (RESULTS_DIR / f"objections-{stamp}.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2)
    )
    log(f"written to bench/results/objections-{stamp}.json")


if __name__ == "__main__":
    main()
