"""Masking of natural persons' names and identity numbers below the levels that see them."""

from __future__ import annotations


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
