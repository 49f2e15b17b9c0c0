"""Natural persons: their subject keys, and the masking of their names and identity numbers
below the levels that see them."""

from __future__ import annotations

import re
from typing import Any

# A natural person's subject key is "P" and the 64 hex digits of the keyed hash of the
# identity number (the registry's lookup_key); an organisation's is its 18-character code.
PERSON_KEY_PREFIX = "P"
_PERSON_KEY_LENGTH = 1 + 64


def is_person_key(subject_key: str) -> bool:
    """Whether a subject key stands for a natural person."""
    return len(subject_key) == _PERSON_KEY_LENGTH and subject_key.startswith(PERSON_KEY_PREFIX)


def mask_id_number(number: str) -> str:
    """Keeps the first six and last four characters of an identity number."""
    number = number.strip().upper()
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_name(name: str) -> str:
    """Keeps the first character of a name and masks every further one (张三 -> 张*)."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 0)


# An 18-character citizen identity number standing on its own in a text (not part of a
# longer run of letters and digits), its check character verified (GB 11643).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _is_id_number(number: str) -> bool:
    total = sum(int(digit) * weight for digit, weight in zip(number, _WEIGHTS, strict=False))
    return _CHECK[total % 11] == number[17].upper()


def mask_id_numbers_in(value: Any) -> Any:
    """`value` (text, or lists and objects of it, as a record's fields) with every
    identity number in its texts masked: a department may have typed one into free text
    (违法事实 naming a person), which no level below restricted may see."""
    if isinstance(value, str):
        if not _ID_IN_TEXT.search(value):
            return value
        return _ID_IN_TEXT.sub(
            lambda m: mask_id_number(m[0]) if _is_id_number(m[0]) else m[0], value
        )
    if isinstance(value, list):
        return [mask_id_numbers_in(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_id_numbers_in(v) for k, v in value.items()}
    return value
