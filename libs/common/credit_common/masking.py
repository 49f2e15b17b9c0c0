"""Natural persons: their subject keys, and the masking of their names and identity numbers
below the levels that see them."""

from __future__ import annotations

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
