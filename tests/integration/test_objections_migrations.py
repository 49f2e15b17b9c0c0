"""The objections service's data migrations, run on a database holding cases as the
previous revision left them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from alembic import command

from credit_common.db import GUID, UTCDateTime, sync_url
from credit_common.migrate import alembic_config
from credit_objections.bootstrap import MIGRATIONS, VERSION_TABLE

# 16:00 UTC is the end of a day in China.
FILED = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)  # Monday 2 March 2026, 10:00 in China


def _at(day: int, hour: int = 2) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


def _case(conn: sa.Connection, table: str, **values: Any) -> uuid.UUID:
    sqlite = conn.dialect.name == "sqlite"
    case_id = uuid.uuid4()
    row: dict[str, Any] = {
        "id": str(case_id) if sqlite else case_id,
        "target_kind": "record",
        "target_id": str(uuid.uuid4()),
        "subject_id": str(uuid.uuid4()) if sqlite else uuid.uuid4(),
        "subject_key": "91310115MA1K3YJ12X",
        "natural_person": False,
        "version": 1,
        "evidence": [],
        "filed_by": "cl_window",
        "filed_department": "development_reform",
        "filed_at": FILED,
        "due_at": None,
        "closed_at": None,
        "updated_at": FILED,
    }
    if table == "objections":
        row |= {"reason": "有误", "source_department": "market_regulation"}
    else:
        row |= {"grounds": "已整改", "commitment": True}
    conn.execute(sa.insert(sa.Table(table, sa.MetaData(), autoload_with=conn)).values(row | values))
    return case_id


def _steps(
    conn: sa.Connection, table: str, case_id: uuid.UUID, *steps: tuple[str, str, dt.datetime]
) -> None:
    sqlite = conn.dialect.name == "sqlite"
    conn.execute(
        sa.insert(sa.Table(table, sa.MetaData(), autoload_with=conn)),
        [
            {
                "case_id": str(case_id) if sqlite else case_id,
                "from_state": from_state,
                "to_state": "",
                "action": action,
                "at": at,
                "actor": "cl_centre",
                "department": "development_reform",
                "reason": "r",
                "evidence": [],
            }
            for from_state, action, at in (("", "file", FILED), *steps)
        ],
    )


def test_cases_stored_before_0002_are_marked_with_the_first_due_date_a_step_missed(
    database_url: str,
) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0001")
    engine = sa.create_engine(sync_url(database_url))
    dues = {"accept_due": dt.date(2026, 3, 4), "verify_due": dt.date(2026, 3, 11)}
    with engine.begin() as conn:
        in_time = _case(
            conn, "objections", state="dismissed", **dues, decide_due=dt.date(2026, 3, 16),
            closed_at=_at(16, 15),
        )  # fmt: skip
        _steps(
            conn, "objection_transitions", in_time,
            ("submitted", "accept", _at(4, 15)),  # 23:00 on the due day, China time
            ("verifying", "verify", _at(11)),
            ("verified", "decide", _at(16, 15)),
        )  # fmt: skip
        verified_late = _case(
            conn, "objections", state="verified", **dues, decide_due=dt.date(2026, 3, 17),
            due_at=_at(17, 16),
        )  # fmt: skip
        _steps(
            conn, "objection_transitions", verified_late,
            ("submitted", "accept", _at(3)),
            ("verifying", "verify", _at(11, 16)),  # 00:00 on the 12th in China: a day late
        )  # fmt: skip
        still_open = _case(
            conn, "objections", state="submitted", accept_due=dt.date(2026, 3, 4),
            due_at=_at(4, 16),
        )  # fmt: skip
        _steps(conn, "objection_transitions", still_open)
        repaired_late = _case(
            conn, "repairs", state="approved", decide_due=dt.date(2026, 3, 16),
            closed_at=_at(20),
        )  # fmt: skip
        _steps(conn, "repair_transitions", repaired_late, ("submitted", "decide", _at(20)))
        repaired = _case(
            conn, "repairs", state="rejected", decide_due=dt.date(2026, 3, 16), closed_at=_at(16)
        )
        _steps(conn, "repair_transitions", repaired, ("submitted", "decide", _at(16)))
    command.upgrade(config, "head")

    def missed(table: str) -> dict[str, dt.datetime | None]:
        cases = sa.table(table, sa.column("id", GUID()), sa.column("missed_due_at", UTCDateTime()))
        with engine.connect() as conn:
            return {str(r[0]): r[1] for r in conn.execute(sa.select(cases))}

    assert missed("objections") == {
        str(in_time): None,
        str(verified_late): _at(11, 16),
        str(still_open): None,  # overdue by its due_at, as read; nothing missed yet
    }
    assert missed("repairs") == {str(repaired_late): _at(16, 16), str(repaired): None}
    command.downgrade(config, "0001")
    command.upgrade(config, "head")
