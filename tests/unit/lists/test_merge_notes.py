"""The history note of an entry whose subject was merged: an organisation is named by its
key (its unified code); a natural person's key, a keyed hash of the identity number, never
shows."""

from __future__ import annotations

from credit_lists.domain.model import merge_note

ORG = "91310115MA1H7GXX3K"
SURVIVOR_ORG = "91310115MA1K4LBH2U"
PERSON = "P" + "a1" * 32
SURVIVOR_PERSON = "P" + "b2" * 32
SINCE_PERSON = "P" + "c3" * 32


def test_a_merge_note_names_organisations_by_their_codes() -> None:
    assert merge_note(ORG, SURVIVOR_ORG) == f"subject {ORG} merged into {SURVIVOR_ORG}"
    assert merge_note(ORG, SURVIVOR_ORG, since="91310115MA1K4LBH9W") == (
        f"subject {ORG} merged into {SURVIVOR_ORG} (since merged into 91310115MA1K4LBH9W)"
    )


def test_a_merge_note_never_shows_a_natural_persons_key() -> None:
    notes = [
        merge_note(PERSON, SURVIVOR_PERSON),
        merge_note(PERSON, SURVIVOR_PERSON, since=SINCE_PERSON),
    ]
    assert notes == [
        "subject merged into another subject",
        "subject merged into another subject (since merged into another)",
    ]
    assert not any(key in note for note in notes for key in (PERSON, SURVIVOR_PERSON))
