"""Which database errors are the caller's value, and what the caller is told."""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa_exc

from credit_common.db import refused_value


def test_data_errors_from_sqlalchemy_and_from_a_raw_copy_are_the_callers_value() -> None:
    wrapped = sa_exc.DataError("INSERT …", {}, psycopg.DataError("value too long\nDETAIL: x"))
    assert refused_value(wrapped) == "value too long"
    assert refused_value(psycopg.errors.StringDataRightTruncation("too long")) == "too long"
    assert refused_value(psycopg.DataError("")) == "a value of the wrong form or range"
    assert refused_value(psycopg.OperationalError("connection lost")) is None
    assert refused_value(ValueError("mine")) is None
