"""The records service's parts on a database of their own, without the registry (each test
says what it answers), and a general penalty to submit through them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from credit_common.directory import SubjectRef
from credit_common.timeutil import utcnow
from credit_records.bootstrap import RecordsApp, build, migrate
from credit_records.service_layer import commands
from credit_records.settings import RecordsSettings
from support.processes import free_port

MARKET = commands.Caller("cl_market", "market_regulation")
COURT = commands.Caller("cl_court", "court")
# A court_dishonest record's fields (a "while listed" item: public while its listings last).
DISHONEST = {
    "case_number": "(2026)沪0115执1号",
    "court_name": "上海市浦东新区人民法院",
    "obligation": "支付货款",
    "performance": "unperformed",
    "dishonest_conduct": "有履行能力而拒不履行",
}


async def started(database_url: str, var_dir: Path) -> RecordsApp:
    """The parts, migrated and started; stop them with `app.stop()`."""
    settings = RecordsSettings(
        database_url=database_url,
        var_dir=var_dir,
        registry_address=f"127.0.0.1:{free_port()}",
    )
    migrate(settings)
    app = build(settings)
    await app.start()
    return app


def keys() -> tuple[uuid.UUID, str]:
    return uuid.uuid4(), f"91310115MA{uuid.uuid4().hex[:8].upper()}"


def answering(
    app: RecordsApp, monkeypatch: pytest.MonkeyPatch, *subjects: tuple[uuid.UUID, str]
) -> None:
    """The registry resolves each subject's code to the subject itself (as it did, or as
    its cached answer says, before a merge)."""
    known = {key: SubjectRef(subject_id, key, False) for subject_id, key in subjects}

    async def resolve(codes: Sequence[str]) -> dict[str, SubjectRef | None]:
        return {c: known.get(c) for c in codes}

    monkeypatch.setattr(app.directory, "resolve", resolve)


def penalty(**overrides: Any) -> dict[str, Any]:
    """An admin_penalty's fields: a general warning, with `overrides` set over them."""
    fields: dict[str, Any] = {
        "violation_type": "超范围经营",
        "violation_facts": "超出核准登记的经营范围从事经营活动",
        "legal_basis": "《市场主体登记管理条例》第四十六条",
        "penalty_kinds": ["warning"],
        "penalty_content": "警告",
        "severity": "general",
        "deciding_authority": "某市市场监督管理局",
    }
    fields.update(overrides)
    return fields


def decided() -> str:
    return (utcnow().date() - dt.timedelta(days=1)).isoformat()


async def submit(app: RecordsApp, key: str) -> uuid.UUID:
    ref = f"某监罚〔2026〕{uuid.uuid4().hex[:8]}号"
    cmd = commands.Submit(MARKET, key, "admin_penalty", ref, decided(), penalty())
    return (await app.records.submit(cmd)).view.record.id
