"""The records service's data migrations, run on a database holding rows as the previous
revision left them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import sqlalchemy as sa
from alembic import command

from credit_common.db import sync_url
from credit_common.migrate import alembic_config
from credit_records.bootstrap import MIGRATIONS, VERSION_TABLE
from credit_records.domain.records import canonical_json, content_hash
from support.schema import index_sql


def _insert_record(conn: sa.Connection, record_id: uuid.UUID, ref: str, **values: object) -> None:
    """A general admin_penalty record decided on 15 January 2026, as 0002 stores it."""
    records = sa.Table("records", sa.MetaData(), autoload_with=conn)
    sqlite = conn.dialect.name == "sqlite"
    row: dict[str, object] = {
        "id": str(record_id) if sqlite else record_id,
        "subject_id": str(uuid.uuid4()) if sqlite else uuid.uuid4(),
        "subject_key": "91310115MA1K3YJ58Y",
        "item_code": "admin_penalty",
        "department": "market_regulation",
        "source_ref": ref,
        "decided_on": dt.date(2026, 1, 15),
        "content_hash": "0" * 64,
        "current_version": 1,
        "severity": "general",
        "never_public": False,
        "publicity_until": dt.date(2027, 1, 15),
        "retention_until": dt.date(2032, 1, 15),
        "repairable": True,
        "repair_possible_from": None,
        "late": False,
        "submitted_at": NOW,
        "submitted_by": "cl",
        "updated_at": NOW,
        "open_objections": 0,
    }
    conn.execute(sa.insert(records).values({**row, **values}))


NOW = dt.datetime(2026, 1, 16, tzinfo=dt.UTC)


def test_repair_dates_move_to_the_day_after_the_minimum(database_url: str) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0002")
    engine = sa.create_engine(sync_url(database_url))
    days = {"a": dt.date(2026, 4, 15), "b": dt.date(9999, 12, 31), "c": None}
    ids = {ref: uuid.uuid4() for ref in days}
    with engine.begin() as conn:
        catalog = sa.table(
            "catalog_items",
            sa.column("item_code"),
            sa.column("current_version"),
            sa.column("updated_at"),
        )
        conn.execute(
            sa.insert(catalog).values(item_code="admin_penalty", current_version=1, updated_at=NOW)
        )
        for ref, day in days.items():
            _insert_record(
                conn, ids[ref], ref, repairable=day is not None, repair_possible_from=day
            )
    command.upgrade(config, "head")

    def stored() -> dict[str, object]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT source_ref, repair_possible_from FROM records"))
            return {
                r[0]: r[1] if isinstance(r[1], dt.date | None) else dt.date.fromisoformat(r[1])
                for r in rows
            }

    assert stored() == {"a": dt.date(2026, 4, 16), "b": dt.date(9999, 12, 31), "c": None}
    command.downgrade(config, "0002")
    assert stored() == days
    engine.dispose()


def test_a_persons_negative_records_are_kept_five_years_from_their_decision(
    database_url: str,
) -> None:
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0004")
    engine = sa.create_engine(sync_url(database_url))
    person = "P" + "AB" * 32
    # (subject key, item, decided on, retention before) by source ref
    rows = {
        "person-leap": (person, "admin_penalty", dt.date(2024, 2, 29), dt.date(2031, 3, 1)),
        "person-short": (person, "admin_penalty", dt.date(2026, 1, 15), dt.date(2029, 1, 1)),
        "person-licence": (person, "admin_license", dt.date(2026, 1, 15), dt.date(2036, 1, 15)),
        "organisation": (
            "91310115MA1K3YJ58Y",
            "admin_penalty",
            dt.date(2026, 1, 15),
            dt.date(2035, 1, 15),
        ),
    }
    with engine.begin() as conn:
        for code, nature in (("admin_penalty", "negative"), ("admin_license", "neutral")):
            conn.execute(
                sa.text(
                    "INSERT INTO catalog_items (item_code, current_version, updated_at)"
                    " VALUES (:code, 2, :now)"
                ),
                {"code": code, "now": NOW},
            )
            for version, shown in ((1, "negative"), (2, nature)):  # the current one counts
                conn.execute(
                    sa.text(
                        "INSERT INTO catalog_versions"
                        " (item_code, version, definition, created_at, created_by)"
                        " VALUES (:code, :version, :definition, :now, 'shipped')"
                    ),
                    {
                        "code": code,
                        "version": version,
                        "definition": json.dumps({"nature": shown}),
                        "now": NOW,
                    },
                )
        for ref, (key, item, decided, until) in rows.items():
            _insert_record(
                conn,
                uuid.uuid4(),
                ref,
                subject_key=key,
                item_code=item,
                decided_on=decided,
                retention_until=until,
            )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        kept = {
            r[0]: r[1] if isinstance(r[1], dt.date) else dt.date.fromisoformat(r[1])
            for r in conn.execute(sa.text("SELECT source_ref, retention_until FROM records"))
        }
    engine.dispose()
    assert kept == {
        "person-leap": dt.date(2029, 2, 28),
        "person-short": dt.date(2029, 1, 1),
        "person-licence": dt.date(2036, 1, 15),
        "organisation": dt.date(2035, 1, 15),
    }


def _catalog(conn: sa.Connection, items: dict[str, dict[str, object]]) -> None:
    """Catalog items with their current definitions (what the data migrations read)."""
    for code, definition in items.items():
        conn.execute(
            sa.text(
                "INSERT INTO catalog_items (item_code, current_version, updated_at)"
                " VALUES (:code, 1, :now)"
            ),
            {"code": code, "now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO catalog_versions (item_code, version, definition, created_at,"
                " created_by) VALUES (:code, 1, :definition, :now, 'shipped')"
            ),
            {"code": code, "definition": json.dumps(definition), "now": NOW},
        )


def _day(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


# A retention migration's case: (item, subject key, unlisted at, publicity until, stored
# before, kept after), by source ref.
RetentionRow = tuple[str, str, dt.datetime | None, dt.date | None, dt.date, dt.date]


def _migrates_retention(
    database_url: str,
    before: str,
    after: str,
    items: dict[str, dict[str, object]],
    rows: dict[str, RetentionRow],
    decided: dt.date,
) -> None:
    """Stores `rows` (and `items`, the catalog) at revision `before`, upgrades to `after`
    and checks each record's retention kept, then downgrades and checks the former one."""
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, before)
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:
        _catalog(conn, items)
        for ref, (item, key, unlisted, until, stored, _) in rows.items():
            _insert_record(
                conn,
                uuid.uuid4(),
                ref,
                item_code=item,
                subject_key=key,
                decided_on=decided,
                publicity_until=until,
                retention_until=stored,
                unlisted_at=unlisted,
            )

    def kept() -> dict[str, dt.date]:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT source_ref, retention_until FROM records"))
            return {r[0]: _day(r[1]) for r in found}

    try:
        command.upgrade(config, after)
        assert kept() == {ref: row[5] for ref, row in rows.items()}
        command.downgrade(config, before)
        assert kept() == {ref: row[4] for ref, row in rows.items()}
    finally:
        engine.dispose()


def test_records_public_without_an_end_of_their_own_are_kept_from_their_end(
    database_url: str,
) -> None:
    """0006: a court record still listed, or a licence without an end of validity, is kept
    (9999-12-31); one whose listings ended is kept five years after their last day; a
    natural person's negative record still no longer than the fifth anniversary of its
    decision. The downgrade puts back the dates counted from the decision."""
    person = "P" + "ab" * 32
    decided = dt.date(2026, 1, 31)
    former = dt.date(2031, 1, 31)  # decided_on + 1826 days, as 0005 left them
    rows: dict[str, RetentionRow] = {
        "court-listed": ("court_dishonest", "91310115MA8BRK2A83", None, None, former, dt.date.max),
        # Midnight in China after 31 December 2030: that is its last public day.
        "court-ended": (
            "court_dishonest",
            "91310115MA8BRK2A83",
            dt.datetime(2030, 12, 31, 16, tzinfo=dt.UTC),
            None,
            former,
            dt.date(2035, 12, 31),
        ),
        # A microsecond into 1 January 2031 in China: public that day too.
        "court-ended-later": (
            "court_dishonest",
            "91310115MA8BRK2A83",
            dt.datetime(2030, 12, 31, 16, 0, 0, 1, tzinfo=dt.UTC),
            None,
            former,
            dt.date(2036, 1, 1),
        ),
        "court-person": ("court_dishonest", person, None, None, former, former),
        "court-person-ended": (
            "court_dishonest",
            person,
            dt.datetime(2026, 6, 30, 16, tzinfo=dt.UTC),
            None,
            former,
            former,
        ),
        "licence-open": ("admin_license", "91310115MA8BRK2A83", None, None, former, dt.date.max),
        "licence-valid": (
            "admin_license",
            "91310115MA8BRK2A83",
            None,
            dt.date(2027, 1, 30),
            dt.date(2032, 1, 31),
            dt.date(2032, 1, 31),
        ),
        "penalty": (
            "admin_penalty",
            person,
            None,
            dt.date(2027, 1, 31),
            former,
            former,
        ),
    }
    items: dict[str, dict[str, object]] = {
        "court_dishonest": {"nature": "negative", "retention_days": 1826},
        "admin_license": {"nature": "neutral"},
        "admin_penalty": {"nature": "negative", "retention_days": 1826},
    }
    _migrates_retention(database_url, "0005", "0006", items, rows, decided)


def test_content_hashes_are_made_anew_from_the_records_as_they_now_stand(
    database_url: str,
) -> None:
    """0007: a record sent alone (its numbers doubles, `2025.0`), one moved to a survivor by
    a merge, one corrected: each gets the hash the records service now makes for its
    current content under its current subject, so that the same content sent again (alone
    or in bulk) is no conflict. Read a batch at a time: every record is reached."""
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0006")
    engine = sa.create_engine(sync_url(database_url))
    decided = dt.date(2026, 4, 1)
    grade = {"grade": "A", "year": 2025.0, "evaluating_authority": "某税务局", "big": 1e23}
    duplicate, survivor = uuid.uuid4(), uuid.uuid4()

    def old_hash(subject: uuid.UUID, fields: dict[str, object]) -> str:
        """As the records service made it before: the fields' floats as Python writes them."""
        text = json.dumps(
            [str(subject), "tax_credit_grade", decided.isoformat(), fields],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode()).hexdigest()

    # (subject, stored hash, versions' fields) by source ref
    rows: dict[str, tuple[uuid.UUID, str, list[dict[str, object]]]] = {
        "alone": (survivor, old_hash(survivor, grade), [grade]),
        "merged": (survivor, old_hash(duplicate, {"grade": "B"}), [{"grade": "B"}]),
        "corrected": (
            survivor,
            old_hash(survivor, {"grade": "C"}),
            [{"grade": "C"}, {"grade": "D"}],
        ),
        "right": (survivor, old_hash(survivor, {"grade": "M"}), [{"grade": "M"}]),
    }
    rows |= {f"many-{n}": (survivor, "0" * 64, [{"n": n}]) for n in range(5002)}
    with engine.begin() as conn:
        _catalog(conn, {"tax_credit_grade": {"nature": "neutral"}})
        records = sa.Table("records", sa.MetaData(), autoload_with=conn)
        versions = sa.Table("record_versions", sa.MetaData(), autoload_with=conn)
        sqlite = conn.dialect.name == "sqlite"
        record_rows, version_rows = [], []
        for ref, (subject, stored, fields) in rows.items():
            record_id = uuid.uuid4()
            record_rows.append(
                {
                    "id": str(record_id) if sqlite else record_id,
                    "subject_id": str(subject) if sqlite else subject,
                    "subject_key": "91310115MA1K3YJ58Y",
                    "item_code": "tax_credit_grade",
                    "department": "tax",
                    "source_ref": ref,
                    "decided_on": decided,
                    "content_hash": stored,
                    "current_version": len(fields),
                    "severity": "",
                    "never_public": True,
                    "publicity_until": dt.date(2027, 4, 1),
                    "retention_until": dt.date(2032, 4, 1),
                    "repairable": False,
                    "late": False,
                    "submitted_at": NOW,
                    "submitted_by": "cl",
                    "updated_at": NOW,
                    "open_objections": 0,
                }
            )
            version_rows += [
                {
                    "record_id": str(record_id) if sqlite else record_id,
                    "version": number,
                    "fields": given,
                    "schema_version": 1,
                    "recorded_at": NOW,
                    "recorded_by": "cl",
                    "department": "tax",
                    "reason": "",
                }
                for number, given in enumerate(fields, start=1)
            ]
        conn.execute(sa.insert(records), record_rows)
        conn.execute(sa.insert(versions), version_rows)
    command.upgrade(config, "0007")
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT source_ref, content_hash FROM records")).all())
    engine.dispose()
    expected = {
        ref: content_hash(subject, "tax_credit_grade", decided, canonical_json(fields[-1]))
        for ref, (subject, _, fields) in rows.items()
    }
    assert stored["right"] == rows["right"][1] == expected["right"]
    assert stored["alone"] != rows["alone"][1]
    assert stored == expected


def test_a_persons_records_public_while_listed_count_five_years_from_their_listings_end(
    database_url: str,
) -> None:
    """0008: a natural person's court record still listed is kept (9999-12-31), and one
    whose listings ended five years after their last day, not after the decision; an
    organisation's, and a person's record with an end of publicity of its own, are left as
    they are. The downgrade puts back the dates capped at the decision's fifth anniversary."""
    person, organisation = "P" + "ab" * 32, "91310115MA8BRK2A83"
    decided = dt.date(2026, 1, 31)
    fifth = dt.date(2031, 1, 31)  # as 0006 left a person's record: the decision's fifth year
    end_2030 = dt.datetime(2030, 12, 31, 16, tzinfo=dt.UTC)  # last listed day 31 Dec 2030
    rows: dict[str, RetentionRow] = {
        "person-listed": ("court_dishonest", person, None, None, fifth, dt.date.max),
        "person-ended-2026": (
            "court_dishonest",
            person,
            dt.datetime(2026, 6, 30, 16, tzinfo=dt.UTC),
            None,
            fifth,
            dt.date(2031, 6, 30),
        ),
        "person-ended-2030": (
            "court_dishonest",
            person,
            end_2030,
            None,
            fifth,
            dt.date(2035, 12, 31),
        ),
        "organisation-ended": (
            "court_dishonest",
            organisation,
            end_2030,
            None,
            dt.date(2035, 12, 31),
            dt.date(2035, 12, 31),
        ),
        "person-penalty": ("admin_penalty", person, None, dt.date(2027, 1, 31), fifth, fifth),
        # An item keeping its records 1825 days ("5 years"): calendar years, as the records
        # service counts them; from 28 February 2028, 1825 days would end on 26 February.
        "person-years": (
            "court_years",
            person,
            dt.datetime(2028, 2, 28, 16, tzinfo=dt.UTC),
            None,
            fifth,
            dt.date(2033, 2, 28),
        ),
        # 730 days from 1 March 2027 across 29 February 2028: 0006 stored 28 February.
        "person-two-years": (
            "court_two_years",
            person,
            dt.datetime(2027, 3, 1, 16, tzinfo=dt.UTC),
            None,
            dt.date(2029, 2, 28),
            dt.date(2029, 3, 1),
        ),
    }
    items: dict[str, dict[str, object]] = {
        "court_years": {
            "nature": "negative",
            "retention_days": 1825,
            "publicity": {"kind": "while_active"},
        },
        "court_two_years": {
            "nature": "negative",
            "retention_days": 730,
            "publicity": {"kind": "while_active"},
        },
        "court_dishonest": {
            "nature": "negative",
            "retention_days": 1826,
            "publicity": {"kind": "while_active"},
        },
        "admin_penalty": {
            "nature": "negative",
            "retention_days": 1826,
            "publicity": {"kind": "by_severity"},
        },
    }
    _migrates_retention(database_url, "0007", "0008", items, rows, decided)


def test_records_never_published_are_not_repairable(database_url: str) -> None:
    """0009: a record stored never public (here a minor penalty and a shared-only item's)
    no longer says it is repairable; a published one keeps its repair date."""
    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0008")
    engine = sa.create_engine(sync_url(database_url))
    day = dt.date(2026, 4, 16)
    with engine.begin() as conn:
        _catalog(conn, {"admin_penalty": {}, "social_insurance_arrears": {}})
        _insert_record(conn, uuid.uuid4(), "minor", never_public=True, severity="minor")
        _insert_record(
            conn, uuid.uuid4(), "arrears", item_code="social_insurance_arrears", never_public=True
        )
        _insert_record(conn, uuid.uuid4(), "general", repair_possible_from=day)
    command.upgrade(config, "0009")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT source_ref, repairable, repair_possible_from FROM records")
        )
        found = {r[0]: (bool(r[1]), r[2] and _day(r[2])) for r in rows}
    assert found == {"minor": (False, None), "arrears": (False, None), "general": (True, day)}
    engine.dispose()


def test_merged_subjects_are_made_as_the_tables_say_and_dropped_again(database_url: str) -> None:
    """0010: merged_subjects as tables.py declares it (columns, key, the survivor's
    index) on either database; the downgrade drops it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from credit_records.adapters import tables

    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0010")
    engine = sa.create_engine(sync_url(database_url))
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), tables.metadata)
        assert [d for d in diffs if "merged_subjects" in repr(d)] == []
        assert "merged_subjects" in sa.inspect(conn).get_table_names()
    command.downgrade(config, "0009")
    with engine.connect() as conn:
        assert "merged_subjects" not in sa.inspect(conn).get_table_names()
    engine.dispose()


def test_expiry_told_at_and_its_index_are_made_as_the_tables_say_and_dropped_again(
    database_url: str,
) -> None:
    """0011: records.expiry_told_at and the partial index of the untold as tables.py
    declares them on either database; a record stored before is untold (the first sweep
    tells it if its retention is over); the downgrade drops both."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from credit_records.adapters import tables

    config = alembic_config(database_url, MIGRATIONS, VERSION_TABLE)
    command.upgrade(config, "0010")
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO catalog_items (item_code, current_version, updated_at)"
                " VALUES ('admin_penalty', 1, :now)"
            ),
            {"now": NOW},
        )
        _insert_record(conn, uuid.uuid4(), "old", retention_until=dt.date(2020, 1, 15))
    command.upgrade(config, "0011")
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), tables.metadata)
        assert [d for d in diffs if "expiry" in repr(d)] == []
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("records")}
        assert indexes["ix_records_expiry_due"]["column_names"] == ["retention_until"]
        # Partial, as tables.py declares it (compare_metadata does not compare that).
        made = index_sql(conn, "ix_records_expiry_due").lower().replace("(", "").replace(")", "")
        assert "where expiry_told_at is null and withdrawn_at is null" in made
        assert (
            conn.scalar(sa.text("SELECT count(*) FROM records WHERE expiry_told_at IS NULL")) == 1
        )
    command.downgrade(config, "0010")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("records")}
        assert "expiry_told_at" not in columns
        assert "ix_records_expiry_due" not in {
            i["name"] for i in sa.inspect(conn).get_indexes("records")
        }
    engine.dispose()
