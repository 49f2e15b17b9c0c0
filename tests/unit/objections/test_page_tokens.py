"""The objections service's page tokens: where a listing resumes."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest

from credit_common.errors import InvalidArgument
from credit_common.messages import token_for
from credit_objections.domain.cases import PageKey
from credit_objections.entrypoints.convert import page_start, page_token

FILED = dt.datetime(2026, 3, 2, 2, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize("due", [dt.datetime(2026, 3, 4, 16, tzinfo=dt.UTC), None])
def test_a_token_gives_back_the_key_it_was_made_of(due: dt.datetime | None) -> None:
    key = PageKey(due, FILED, uuid.uuid4())
    assert page_start(page_token(key)) == (key, 0)


def test_no_key_is_no_token_and_no_token_is_the_first_page() -> None:
    assert page_token(None) == ""
    assert page_start("") == (None, 0)


def test_an_offset_token_of_the_version_before_is_still_honoured() -> None:
    assert page_start(token_for(100)) == (None, 100)


@pytest.mark.parametrize(
    "text",
    [
        "k:[1, 2]",
        'k:["2026-03-04", "no", "x"]',
        f'k:[null, "2026-03-02T02:00:00", "{uuid.UUID(int=1)}"]',
        "k:{}",
        "k:",
        "zz",
        "o:-1",
    ],
)
def test_a_token_this_service_did_not_issue_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        page_start(base64.urlsafe_b64encode(text.encode()).decode())
    with pytest.raises(InvalidArgument):
        page_start("%%%" + text)
