"""Corrected fields holding NaN or an infinity are the caller's mistake, not an internal
error (MessageToDict cannot write them as JSON)."""

from __future__ import annotations

import math

import pytest
from google.protobuf import struct_pb2

from credit_common.errors import InvalidArgument
from credit_objections.entrypoints.convert import fields_of


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_corrected_fields_that_are_not_finite_are_an_invalid_argument(number: float) -> None:
    message = struct_pb2.Struct()
    message.update({"penalty_content": "警告", "amounts": [1.5, number]})
    with pytest.raises(InvalidArgument) as error:
        fields_of(message)
    assert [v.field for v in error.value.violations] == ["corrected_fields"]
    message.update({"amounts": [1.5]})
    assert fields_of(message) == {"penalty_content": "警告", "amounts": [1.5]}
