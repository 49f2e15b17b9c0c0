"""The public cache in front of real services: public answers are kept, every kind of
change made elsewhere drops them through the services' events, and a kept answer is
audited like a fresh one.

The reader keeps answers for 300 s, so nothing here can pass by an entry expiring; the
writer is a second gateway without the cache, so its writes reach the reader only as
events (a gateway drops its own writes' subjects directly as well)."""

from __future__ import annotations

import asyncio
from typing import Any

from credit.events.v1 import envelope_pb2, lists_pb2, records_pb2
from credit_gateway.adapters.public_cache import Hit
from e2e.conftest import Api
from e2e.test_gateway_full import stack
from e2e.test_gateway_objections import EVIDENCE, bearer, eventually, file, parties, register

__all__ = ["stack"]


def _sections(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in {"report_id", "generated_at"}}


async def test_public_answers_are_kept_until_a_change_elsewhere_drops_them(stack: Any) -> None:
    make_api, objections = stack
    reader: Api = await make_api(public_cache_seconds=300)
    writer: Api = await make_api(public_cache_seconds=0)
    p = await parties(writer)
    code = p.code
    subject_path, records_path = f"/v1/subjects/{code}", f"/v1/subjects/{code}/records"
    lists_path, report_path = f"/v1/subjects/{code}/lists", f"/v1/subjects/{code}/report"

    async def public(path: str) -> Any:
        reply = await reader.http.get(path)
        assert reply.status_code == 200, reply.text
        return reply.json()

    first = await public(report_path)
    again = await public(report_path)
    assert again["report_id"] != first["report_id"]
    assert _sections(again) == _sections(first) and first["level"] == "public"
    assert [r["under_objection"] for r in (await public(records_path))["items"]] == [False]
    assert (await public(lists_path))["entries"] == []
    listing = "/v1/list-entries?list_type=court_dishonest_debtor"
    assert (await public(listing))["items"] == []
    assert (await public(subject_path))["name"] == "异议测试有限公司"

    # An objection filed elsewhere: the records service marks the record when it hears of
    # it, and says so (record.marked); the objections service's own event adds the section.
    filed = await file(writer, p.window, p.record_id)
    assert filed.status_code == 201, filed.text

    async def marked() -> bool:
        items = (await public(records_path))["items"]
        report = await public(report_path)
        return bool(
            items[0]["under_objection"]
            and report["open_objections"]
            and next(iter(report["records_by_category"].values()))[0]["under_objection"]
        )

    await eventually(marked)

    # A rename in the registry, an entry on a list.
    registrar = await bearer(writer, ["registry:write"], "market_regulation")
    renamed = await writer.http.patch(
        subject_path, json={"name": "异议测试更名有限公司", "reason": "名称变更"}, headers=registrar
    )
    assert renamed.status_code == 200, renamed.text
    court = await bearer(writer, ["lists:write"], "court")
    listed = await writer.http.post(
        "/v1/list-entries",
        headers=court,
        json={
            "subject_code": code,
            "list_type": "court_dishonest_debtor",
            "reason": "拒不履行",
            "decision_ref": "执缓存1号",
        },
    )
    assert listed.status_code == 201, listed.text

    async def renamed_and_listed() -> bool:
        subject = await public(subject_path)
        lists = await public(lists_path)
        report = await public(report_path)
        listed = (await public(listing))["items"]
        return bool(
            [(e["subject_code"], e["subject_name"]) for e in listed]
            == [(code, "异议测试更名有限公司")]
            and subject["name"] == "异议测试更名有限公司"
            and [e["list_type"] for e in lists["entries"]] == ["court_dishonest_debtor"]
            and report["subject"]["name"] == "异议测试更名有限公司"
            and report["lists"]["restricted"]
        )

    await eventually(renamed_and_listed)

    # An objection to the entry: the lists service marks it (entry.marked).
    entry_id = listed.json()["entry_id"]
    body = {"target": {"kind": "list_entry", "id": entry_id}, "reason": "已履行"}
    on_entry = await writer.http.post(
        "/v1/objections", json={**body, "evidence": EVIDENCE}, headers=p.window
    )
    assert on_entry.status_code == 201, on_entry.text

    async def entry_marked() -> bool:
        return bool((await public(lists_path))["entries"][0]["under_objection"])

    await eventually(entry_marked)

    # Both marks were announced by the service that applied them (the objection's own event
    # may reach the gateway before that service has applied it).
    async def announced(stream: str, kind: str, message: Any, ids: str, target: str) -> bool:
        for _id, fields in await reader.gateway.redis.xrevrange(stream, count=200):  # type: ignore[union-attr]
            envelope = envelope_pb2.Envelope.FromString(fields[b"envelope"])
            if envelope.type == kind:
                payload = message()
                envelope.payload.Unpack(payload)
                if target in getattr(payload, ids):
                    return True
        return False

    await eventually(
        lambda: announced(
            "credit.events.records",
            "record.marked",
            records_pb2.RecordsMarked,
            "record_ids",
            p.record_id,
        )
    )
    await eventually(
        lambda: announced(
            "credit.events.lists", "entry.marked", lists_pb2.EntriesMarked, "entry_ids", entry_id
        )
    )

    # Kept means kept: with the objections service gone, the public report still answers
    # from the cache; a shared-level reader (never cached) is told the service is missing.
    # (once the changes' last events are in: polling above may have seen the changes
    # before every event about them had arrived)
    cache = reader.gateway.cache
    assert cache is not None

    async def kept_twice() -> bool:
        await public(report_path)
        first = await cache.lookup(cache.key("report", code))
        await asyncio.sleep(0.3)
        return isinstance(first, Hit) and isinstance(
            await cache.lookup(cache.key("report", code)), Hit
        )

    await eventually(kept_twice)
    # (stopped from another thread: waiting for it here would block the gateway's loop,
    # which runs in this process)
    await asyncio.to_thread(objections.stop)
    assert (await public(report_path))["lists"]["restricted"]
    shared = await bearer(reader, ["credit:shared"], "finance")
    down = await reader.http.get(report_path, headers=shared)
    assert down.status_code == 503 and down.json()["service"] == "objections"

    # Every read was audited, kept or not.
    await reader.gateway.audit.flush()
    auditor = await bearer(reader, ["audit:read"], "development_reform")
    log = (
        await reader.http.get(
            "/v1/audit",
            params={"subject_code": code, "client_id": "anonymous", "page_size": 500},
            headers=auditor,
        )
    ).json()["items"]
    reports = [e for e in log if e["what"] == "report"]
    assert len(reports) >= 5 and all(e["level"] == "public" for e in reports)


async def test_a_gateway_writing_drops_its_subject_at_once(stack: Any) -> None:
    make_api, _objections = stack
    api: Api = await make_api(public_cache_seconds=300)
    p = await parties(api)
    path = f"/v1/subjects/{p.code}/records"
    assert len((await api.http.get(path)).json()["items"]) == 1
    withdrawn = await api.http.post(
        f"/v1/records/{p.record_id}/withdraw", json={"reason": "录入错误"}, headers=p.market
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (await api.http.get(path)).json()["items"] == []


async def test_a_gateway_merging_drops_the_duplicates_answers_at_once(stack: Any) -> None:
    """A merge dropped only through its event: until that came, a kept public answer for the
    duplicate's code showed it as it was, not the survivor. The gateway drops the duplicate
    and the survivor itself, as for its other writes (the event drops them again)."""
    make_api, _objections = stack
    api: Api = await make_api(public_cache_seconds=300)
    registrar = await bearer(api, ["registry:write"], "market_regulation")
    duplicate = await register(api, "合并重复有限公司")
    survivor = await register(api, "合并存续有限公司")
    assert (await api.http.get(f"/v1/subjects/{duplicate}")).json()["code"] == duplicate
    cache = api.gateway.cache
    assert cache is not None
    dropped: list[str] = []
    invalidate = cache.invalidate

    async def noted(subject_ids: Any) -> int:
        ids = list(subject_ids)
        dropped.extend(ids)
        return await invalidate(ids)

    cache.invalidate = noted  # type: ignore[method-assign]
    duplicate_id = (await api.gateway.registry.get(duplicate, summary=True)).subject_id
    merged = await api.http.post(
        f"/v1/subjects/{duplicate}/merge",
        json={"into": survivor, "reason": "重复登记"},
        headers=registrar,
    )
    assert merged.status_code == 200, merged.text
    assert duplicate_id in dropped, dropped
    assert (await api.http.get(f"/v1/subjects/{duplicate}")).json()["code"] == survivor
