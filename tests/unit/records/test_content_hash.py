"""The content hash, by which a resubmitted row is recognised as unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

from credit_records.domain.records import canonical_json, content_hash


def test_the_content_hash_is_the_one_stored_records_were_given() -> None:
    """Built from the fields' canonical JSON (encoded once in a bulk load), it is still the
    SHA-256 of the whole list as compact JSON with sorted keys, so records stored before
    keep matching their resubmissions."""
    subject = uuid.UUID("6f1c1b9e-6c1a-4a53-9d53-0d6b0a2b6c11")
    day = dt.date(2026, 3, 1)
    fields = {
        "CF_XDR_MC": "上海市浦东新区宏远华信建设工程有限公司",
        "CF_WFXW": '未按规定"申报"\\纳税\t',
        "CF_FK": 5000.5,
        "nested": {"b": [1, None, True], "a": "é"},
    }
    stored_formula = json.dumps(
        [str(subject), "admin_penalty", day.isoformat(), fields],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    expected = hashlib.sha256(stored_formula.encode()).hexdigest()
    assert content_hash(subject, "admin_penalty", day, canonical_json(fields)) == expected
    reordered = dict(reversed(list(fields.items())))
    assert content_hash(subject, "admin_penalty", day, canonical_json(reordered)) == expected
    other = canonical_json(fields | {"CF_FK": 5001})
    assert content_hash(subject, "admin_penalty", day, other) != expected


def test_an_item_code_that_needs_json_escapes_is_hashed_as_json_writes_it() -> None:
    subject = uuid.UUID("6f1c1b9e-6c1a-4a53-9d53-0d6b0a2b6c11")
    day = dt.date(2026, 3, 1)
    for item in ("admin_penalty", "行政处罚", 'odd"item\\', "tab\titem", "with space"):
        formula = json.dumps(
            [str(subject), item, day.isoformat(), {}], ensure_ascii=False, separators=(",", ":")
        )
        expected = hashlib.sha256(formula.encode()).hexdigest()
        assert content_hash(subject, item, day, canonical_json({})) == expected, item
