"""The gateway's own cost for authentication, rate limiting and the query audit (issue 6).

    python -m bench.gateway [--requests 2000]

Registry and records run as processes on the bench databases (``credit_bench_registry``
from ``python -m bench.registry``, ``credit_bench_records`` with records from
``python -m bench.records --scenario bulk``). Two gateways run in this process, on the same
backends, the same gateway database and Redis, and answer the same route,
GET /v1/subjects/{code}/records at the shared level:

- on:  a bearer token checked (signature, client), a token taken from the client's bucket
       (leased from Redis: the client is given 200/s, so a lease is 20 tokens), an audit
       entry per subject read (batched);
- off: the same token taken as it comes (no signature or client check), no bucket, and the
       audit entry dropped.

Requests go to both through httpx's ASGI transport (no sockets), one at a time, in blocks
of 100 on and 100 off on the same codes (an "on" block waits for its audit batches to be
written). Reported: p50 of each and their difference, this process's CPU per request in
each (the audit writer works in the background), and the parts timed one by one inside the
"on" gateway. Target (issue 6): <= 1 ms at p50, judged on the p50 difference and the parts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from bench.records import (
    ADMIN,
    GATEWAY_DB,
    RECORDS_DB,
    REDIS_URL,
    start_stack,
    subject_codes_with_records,
)
from bench.registry import (
    NO_RATE_LIMITS,
    RESULTS_DIR,
    _loop_factory,
    code_under_test,
    log,
    pg_url,
    summary_ms,
)

TARGET_MS = 1.0
CLIENT_RATE = 200


def _timed(
    obj: Any, name: str, totals: collections.Counter[str], label: str
) -> Callable[..., Awaitable[Any]]:
    original = getattr(obj, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started

    setattr(obj, name, wrapper)
    return wrapper


async def measure(addresses: dict[str, str], codes: Sequence[str], n: int) -> dict[str, Any]:
    from credit_gateway import bootstrap
    from credit_gateway.entrypoints.app import create_app
    from credit_gateway.settings import GatewaySettings

    env = {
        "database_url": pg_url(GATEWAY_DB, "postgresql+psycopg"),
        "redis_url": REDIS_URL,
        "registry_address": addresses["registry"],
        "records_address": addresses["records"],
        "admin_client_id": ADMIN[0],
        "admin_client_secret": ADMIN[1],
        **{k.removeprefix("CREDIT_GATEWAY_").lower(): v for k, v in NO_RATE_LIMITS.items()},
    }
    settings = GatewaySettings(**env)  # type: ignore[arg-type]
    on_gateway, off_gateway = bootstrap.build(settings), bootstrap.build(settings)
    await on_gateway.start()
    await off_gateway.start()
    on_app, off_app = create_app(on_gateway), create_app(off_gateway)
    base = "http://gateway"
    on = httpx.AsyncClient(transport=httpx.ASGITransport(app=on_app), base_url=base)
    off = httpx.AsyncClient(transport=httpx.ASGITransport(app=off_app), base_url=base)
    try:
        admin = await on.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": ADMIN[0],
                "client_secret": ADMIN[1],
            },
        )
        admin_headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
        # The client's own limit, as an agency system might be given: the bucket takes leases
        # of 20 tokens (0.1 s of its rate), and how many requests still asked Redis is counted.
        body = {
            "name": "bench",
            "department": "market_regulation",
            "scopes": ["credit:shared"],
            "rate_limit": {"per_second": CLIENT_RATE, "burst": 2 * CLIENT_RATE},
        }
        created = (await on.post("/v1/admin/clients", json=body, headers=admin_headers)).json()
        issued = await on.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        caller = await on_gateway.tokens.verify(issued.json()["access_token"])

        # Off: the token is taken as it comes, no bucket, no audit entry. (Not FastAPI's
        # dependency_overrides: those rebuild the dependency per request, ~1.5 ms.)
        async def trusted(_token: str) -> Any:
            return caller

        off_gateway.tokens.verify = trusted  # type: ignore[method-assign]
        off_gateway.limiter = None
        off_gateway.audit.record = lambda entries: None  # type: ignore[method-assign]
        off_gateway.audit.record_reads = lambda template, keys: None  # type: ignore[method-assign]

        totals: collections.Counter[str] = collections.Counter()
        _timed(on_gateway.tokens, "verify", totals, "token check (signature, client)")
        _timed(on_gateway.limiter, "take", totals, "rate limit (bucket, leased from Redis)")
        limiter = on_gateway.limiter
        assert limiter is not None
        ask_redis = limiter._script
        redis_calls = [0]

        async def counted(**kwargs: Any) -> Any:
            redis_calls[0] += 1
            return await ask_redis(**kwargs)

        limiter._script = counted  # type: ignore[assignment]
        # A read's entries are queued through record_reads (routes/deps.audit).
        record_reads = on_gateway.audit.record_reads

        def timed_record_reads(template: Any, keys: Any) -> None:
            started = time.perf_counter()
            record_reads(template, keys)
            totals["audit (queue the entries)"] += time.perf_counter() - started

        on_gateway.audit.record_reads = timed_record_reads  # type: ignore[method-assign]

        async def one(client: httpx.AsyncClient, code: str, h: dict[str, str]) -> float:
            started = time.perf_counter()
            reply = await client.get(f"/v1/subjects/{code}/records", headers=h)
            elapsed = time.perf_counter() - started
            if reply.status_code != 200:
                raise RuntimeError(f"{reply.status_code}: {reply.text[:300]}")
            return elapsed

        for i in range(min(100, n)):  # warm-up: connections, caches, compiled statements
            await one(on, codes[-1 - i % len(codes)], headers)
            await one(off, codes[-1 - i % len(codes)], headers)
        totals.clear()
        redis_calls[0] = 0
        # Blocks of 100 requests, on and off in turn (the order alternating): the "on"
        # gateway's audit writer hashes and stores its batches in the background, and that
        # work must be charged to "on", not to whichever request happens to be in flight.
        timings: dict[str, list[float]] = {"on": [], "off": []}
        cpu: dict[str, float] = {"on": 0.0, "off": 0.0}
        block = 100
        for b in range(max(1, n // block)):
            order = ("on", "off") if b % 2 == 0 else ("off", "on")
            for which in order:
                client = on if which == "on" else off
                started_cpu = time.process_time()
                for i in range(block):
                    code = codes[(b * block + i) % len(codes)]
                    timings[which].append(await one(client, code, headers))
                if which == "on":
                    await on_gateway.audit.flush()  # its writes belong to this block
                cpu[which] += time.process_time() - started_cpu
        count = len(timings["on"])
        added = summary_ms(timings["on"])["p50"] - summary_ms(timings["off"])["p50"]
        parts = {k: round(v * 1000 / count, 3) for k, v in totals.items()}
        cpu_ms = {k: round(v * 1000 / count, 3) for k, v in cpu.items()}
        return {
            "requests_each": count,
            "on_ms": summary_ms(timings["on"]),
            "off_ms": summary_ms(timings["off"]),
            "added_p50_ms": round(added, 3),
            "cpu_ms_per_request": cpu_ms,
            "added_cpu_ms": round(cpu_ms["on"] - cpu_ms["off"], 3),
            "parts_mean_ms": parts,
            "client_rate_per_second": CLIENT_RATE,
            "requests_asking_redis": round(redis_calls[0] / count, 3),
            "parts_sum_ms": round(sum(parts.values()), 3),
            "target_ms": TARGET_MS,
            "meets_target": added <= TARGET_MS and sum(parts.values()) <= TARGET_MS,
        }
    finally:
        await on.aclose()
        await off.aclose()
        await on_gateway.stop()
        await off_gateway.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="requests to each gateway")
    args = parser.parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS_DIR / f"gateway-{stamp}-logs"
    logs.mkdir(parents=True)
    codes = subject_codes_with_records(2000)
    if not codes:
        raise SystemExit(f"no records in {RECORDS_DB}: run python -m bench.records first")
    log(f"gateway overhead bench {stamp}: {len(codes):,} subjects with records")
    stack = start_stack(logs, ["records"], {"records": RECORDS_DB}, {})
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            result = runner.run(measure(stack.addresses, codes, args.requests))
    finally:
        stack.stop()
    on, off = result["on_ms"], result["off_ms"]
    log(f"  on:  p50 {on['p50']} ms, p90 {on['p90']} ms, p99 {on['p99']} ms")
    log(f"  off: p50 {off['p50']} ms, p90 {off['p90']} ms, p99 {off['p99']} ms")
    log(
        f"  added: p50 {result['added_p50_ms']} ms; this process's CPU per request "
        f"{result['cpu_ms_per_request']} ms, added {result['added_cpu_ms']} ms"
    )
    for part, ms in result["parts_mean_ms"].items():
        log(f"    {part}: {ms} ms per request (mean)")
    log(
        f"    {result['requests_asking_redis']:.1%} of the requests asked Redis for tokens "
        f"(the client's limit {CLIENT_RATE}/s)"
    )
    log(
        f"  the parts add up to {result['parts_sum_ms']} ms (target <= {TARGET_MS} ms at p50, "
        "judged on the p50 difference and on the parts): "
        + ("MET" if result["meets_target"] else "MISSED")
    )
    out = RESULTS_DIR / f"gateway-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "gateway",
                "started_at": stamp,
                "cores": os.cpu_count(),
                "code_under_test": code_under_test(),
                "arguments": vars(args),
                "result": result,
            },
            indent=2,
        )
    )
    log(f"results: {out}")


if __name__ == "__main__":
    main()
