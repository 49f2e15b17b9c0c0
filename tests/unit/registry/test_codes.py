import datetime
import json
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from credit_common.timeutil import china_date
from credit_registry.domain import codes
from credit_registry.domain.codes import (
    AUTHORITY_CATEGORIES,
    USCC_ALPHABET,
    Validation,
    make_org_code,
    make_uscc,
    normalise,
    org_code_check_char,
    uscc_check_char,
    validate_any,
    validate_citizen_id,
    validate_org_code,
    validate_registration_number,
    validate_tax_registration_number,
    validate_uscc,
)

SAMPLES = Path("/work/shared/data/samples/subjects.ndjson")
TODAY = datetime.date(2025, 6, 1)
PILOT_ERA_CODE = "91350100M0001TGQXM"
SPEC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def replace_at(code: str, index: int, char: str) -> str:
    return code[:index] + char + code[index + 1 :]


def sample_subjects(kind: str, count: int) -> list[dict[str, str]]:
    if not SAMPLES.exists():
        pytest.skip("shared sample data not available")
    rows = (json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines())
    return list(islice((row for row in rows if row["kind"] == kind), count))


# Unified social credit code


@pytest.mark.parametrize(
    "code",
    ["91310115MA8BRK2A83", "91110105MAA427M68F", "92440300MAW1A6RX9Y", "92510107MADXRW822G"],
)
def test_sample_codes_are_valid_without_warning(code: str) -> None:
    assert validate_uscc(code) == Validation(code, True, "uscc")


@pytest.mark.parametrize("kind", ["organization", "individual_business"])
def test_sample_subject_codes_are_valid_and_embed_their_org_code(kind: str) -> None:
    for row in sample_subjects(kind, 20):
        result = validate_uscc(row["code"])
        assert result.valid and result.warnings == ()
        assert row["code"][8:17] == row["org_code"]
        assert (
            make_uscc(
                row["registration_authority"],
                row["org_category"],
                row["division_code"],
                row["org_code"],
            )
            == row["code"]
        )


def test_check_character_is_zero_when_weighted_sum_divisible_by_31() -> None:
    first17 = "91310115MA0000330"
    weighted = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, SPEC_WEIGHTS, strict=True))
    assert weighted % 31 == 0
    assert uscc_check_char(first17) == "0"
    assert validate_uscc(first17 + "0").valid


def test_check_character_agrees_with_stdnum_for_digit_prefixes() -> None:
    for code in ["91310115MA8BRK2A83", "92440300MAW1A6RX9Y", "91310115MA00003300"]:
        assert uscc_check_char(code[:17]) == uscc.calc_check_digit(code[:17])


def test_check_character_refuses_characters_outside_the_alphabet() -> None:
    with pytest.raises(ValueError, match="position 10"):
        uscc_check_char("91310115MI8BRK2A8")


def test_wrong_check_character_is_reported_with_expected_and_actual() -> None:
    result = validate_uscc("91310115MA8BRK2A88")
    assert not result.valid
    assert result.reason == "check character mismatch: expected 3, got 8"


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_letters_outside_the_alphabet_are_rejected_by_position(letter: str) -> None:
    result = validate_uscc(replace_at("91310115MA8BRK2A83", 10, letter))
    assert not result.valid
    assert result.reason is not None and result.reason.startswith(
        f"position 11: character '{letter}' is not allowed"
    )


def test_wrong_length_is_rejected() -> None:
    assert validate_uscc("91310115MA8BRK2A8").reason == "length must be 18, got 17"


def test_unknown_registration_authority_is_rejected() -> None:
    code = "B1310115MA8BRK2A8"
    result = validate_uscc(code + uscc_check_char(code))
    assert not result.valid
    assert result.reason == "position 1: unknown registration authority 'B'"


def test_category_not_allowed_for_the_authority_is_rejected() -> None:
    code = "94310115MA8BRK2A8"
    result = validate_uscc(code + uscc_check_char(code))
    assert not result.valid
    assert result.reason is not None
    assert result.reason.startswith(
        "position 2: category '4' is not allowed for registration authority '9'"
    )


def test_non_digit_division_is_rejected() -> None:
    code = "9131011AMA8BRK2A8"
    result = validate_uscc(code + uscc_check_char(code))
    assert result.reason == "positions 3-8: division must be 6 digits, got '31011A'"


@pytest.mark.parametrize(
    ("authority", "category"), [("A", "1"), ("A", "9"), ("N", "2"), ("N", "3"), ("Y", "1")]
)
def test_authorities_a_n_and_y_are_accepted(authority: str, category: str) -> None:
    code = make_uscc(authority, category, "100000", "MA8BRK2A8")
    assert validate_uscc(code) == Validation(code, True, "uscc")


def test_every_authority_and_category_in_the_table_is_accepted() -> None:
    for authority, categories in AUTHORITY_CATEGORIES.items():
        for category in categories:
            assert validate_uscc(make_uscc(authority, category, "310115", "MA8BRK2A8")).valid


def test_lowercase_and_surrounding_spaces_are_normalised() -> None:
    result = validate_uscc("  91310115ma8brk2a83\n")
    assert result.valid and result.code == "91310115MA8BRK2A83"


def test_embedded_org_code_failing_its_own_check_gives_a_warning_not_a_failure() -> None:
    code = make_uscc("9", "1", "310115", "MA8BRK2A8")
    first17 = replace_at(code, 16, "7")[:17]
    result = validate_uscc(first17 + uscc_check_char(first17))
    assert result.valid
    assert result.warnings == (
        "embedded organisation code MA8BRK2A7 fails its own check: "
        "check character mismatch: expected 8, got 7",
    )


def test_listed_exception_failing_the_check_is_valid_with_a_note() -> None:
    result = validate_uscc(PILOT_ERA_CODE, exceptions=frozenset({PILOT_ERA_CODE}))
    assert result.valid and result.reason is None
    assert result.note is not None and "listed exception" in result.note


def test_exception_list_entries_are_compared_after_normalisation() -> None:
    assert validate_uscc(PILOT_ERA_CODE, frozenset({PILOT_ERA_CODE.lower()})).valid


def test_unlisted_pilot_era_code_is_invalid() -> None:
    result = validate_uscc(PILOT_ERA_CODE)
    assert not result.valid and result.reason == "check character mismatch: expected 1, got M"


def test_exception_list_does_not_excuse_other_faults() -> None:
    bad_authority = replace_at(PILOT_ERA_CODE, 0, "B")
    assert not validate_uscc(bad_authority, frozenset({bad_authority})).valid


def test_valid_code_on_the_exception_list_carries_no_note() -> None:
    assert validate_uscc("91310115MA8BRK2A83", frozenset({"91310115MA8BRK2A83"})).note is None


# Building codes


def test_make_uscc_appends_the_check_character() -> None:
    assert make_uscc("9", "1", "310115", "MA8BRK2A8") == "91310115MA8BRK2A83"


@pytest.mark.parametrize(
    ("pieces", "message"),
    [
        (("B", "1", "310115", "MA8BRK2A8"), "unknown registration authority"),
        (("9", "9", "310115", "MA8BRK2A8"), "category '9' is not allowed"),
        (("9", "1", "31011", "MA8BRK2A8"), "division must be 6 digits"),
        (("9", "1", "310115", "MA8BRK2A7"), "check character mismatch"),
        (("9", "1", "310115", "MA8BRK2A"), "length must be 9"),
    ],
)
def test_make_uscc_refuses_bad_pieces(pieces: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_uscc(*pieces)


def test_make_uscc_refuses_org_code_with_letters_outside_the_code_alphabet() -> None:
    with pytest.raises(ValueError, match="position 2: character 'S' is not allowed"):
        make_uscc("9", "1", "310115", make_org_code("MS000001"))


# Organisation code


def test_org_code_check_maps_ten_to_x_and_eleven_to_zero() -> None:
    assert org_code_check_char("00000000") == "0"
    assert make_org_code("MA000004") == "MA000004X"
    assert make_org_code("MA000009") == "MA0000090"
    assert validate_org_code("MA000004X").valid


def test_org_code_uses_the_full_alphabet_including_i_o_s_v_z() -> None:
    code = make_org_code("SIVOZ123")
    assert validate_org_code(code) == Validation(code, True, "org_code")


def test_org_code_check_character_refuses_bad_characters() -> None:
    with pytest.raises(ValueError, match="position 3"):
        org_code_check_char("MA-00001")


def test_org_code_with_wrong_check_is_invalid() -> None:
    result = validate_org_code("MA8BRK2A7")
    assert result == Validation(
        "MA8BRK2A7", False, "org_code", "check character mismatch: expected 8, got 7"
    )


def test_org_code_with_wrong_length_is_invalid() -> None:
    assert validate_org_code("MA8BRK2A").reason == "length must be 9, got 8"


# Registration number


def test_registration_number_example_is_valid() -> None:
    assert validate_registration_number("110108000000016").valid


def test_registration_number_with_wrong_check_digit_is_invalid() -> None:
    result = validate_registration_number("110108000000017")
    assert result.reason == "check character mismatch: expected 6, got 7"


def test_registration_number_with_a_letter_is_invalid() -> None:
    result = validate_registration_number("11010800000A016")
    assert result.reason is not None and result.reason.startswith("position 12")


# Tax registration number


def test_tax_registration_number_is_division_and_org_code() -> None:
    result = validate_tax_registration_number("310115MA8BRK2A8")
    assert result == Validation("310115MA8BRK2A8", True, "tax_registration_number")


def test_tax_registration_number_with_bad_org_code_is_invalid() -> None:
    result = validate_tax_registration_number("310115MA8BRK2A7")
    assert result.reason == (
        "organisation code MA8BRK2A7: check character mismatch: expected 8, got 7"
    )


def test_tax_registration_number_with_non_digit_division_is_invalid() -> None:
    result = validate_tax_registration_number("31011AMA8BRK2A8")
    assert not result.valid and result.reason is not None and "division" in result.reason


# Citizen identity number


def test_citizen_id_example_is_valid() -> None:
    assert validate_citizen_id("11010519491231002X", TODAY).valid


def test_sample_natural_persons_are_valid_and_agree_with_stdnum_check() -> None:
    # Only stdnum's check digit: its bundled division table lacks newer divisions (320505).
    for row in sample_subjects("natural_person", 10):
        assert validate_citizen_id(row["id_number"], TODAY).valid
        assert ric.calc_check_digit(row["id_number"]) == row["id_number"][-1]


def test_citizen_id_lowercase_x_is_normalised() -> None:
    result = validate_citizen_id("11010519491231002x", TODAY)
    assert result.valid and result.code == "11010519491231002X"


def test_citizen_id_with_wrong_check_is_invalid() -> None:
    assert validate_citizen_id("110105194912310021", TODAY).reason == (
        "check character mismatch: expected X, got 1"
    )


def test_citizen_id_with_february_30_is_invalid() -> None:
    result = validate_citizen_id("110105194902300021", TODAY)
    assert result.reason == "birth date 19490230 is not a real date"


def test_citizen_id_born_in_the_future_is_invalid() -> None:
    result = validate_citizen_id("11010519491231002X", today=datetime.date(1949, 12, 30))
    assert result.reason == "birth date 1949-12-31 is in the future"


def test_citizen_id_born_today_is_valid() -> None:
    assert validate_citizen_id("11010519491231002X", today=datetime.date(1949, 12, 31)).valid


# 2026-03-05 01:00 in China is still 2026-03-04 in UTC.
CHINA_MORNING = datetime.datetime(2026, 3, 4, 17, 0, tzinfo=datetime.UTC)
BORN_ON_CHINA_DATE = "110105202603050022"  # born 2026-03-05


def test_a_citizen_born_on_chinas_date_is_valid_while_it_is_still_the_day_before_in_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert china_date(CHINA_MORNING) == datetime.date(2026, 3, 5)
    assert validate_citizen_id(BORN_ON_CHINA_DATE, china_date(CHINA_MORNING)).valid
    monkeypatch.setattr(codes, "utcnow", lambda: CHINA_MORNING)
    assert validate_citizen_id(BORN_ON_CHINA_DATE).valid  # today defaults to China's date
    assert codes.is_citizen_id(BORN_ON_CHINA_DATE)
    tomorrow = validate_citizen_id("110105202603060028")
    assert tomorrow.reason == "birth date 2026-03-06 is in the future"


def test_citizen_id_with_x_before_the_last_position_is_invalid() -> None:
    result = validate_citizen_id("1101051949123100X2", TODAY)
    assert result.reason is not None and result.reason.startswith("position 17")


# Recognising the kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("91310115MA8BRK2A83", "uscc"),
        ("11010519491231002X", "citizen_id"),
        ("MA8BRK2A8", "org_code"),
        ("110108000000016", "registration_number"),
        ("310115MA8BRK2A8", "tax_registration_number"),
    ],
)
def test_validate_any_recognises_each_kind(code: str, kind: str) -> None:
    result = validate_any(code, today=TODAY)
    assert result.valid and result.kind == kind


def test_validate_any_rejects_unrecognised_shapes() -> None:
    assert validate_any("12345") == Validation("12345", False, None, "unrecognised format")
    assert validate_any("").reason == "unrecognised format"


def test_validate_any_passes_exceptions_to_the_uscc_check() -> None:
    assert validate_any(PILOT_ERA_CODE, frozenset({PILOT_ERA_CODE})).note is not None


def test_validate_any_reports_a_mistyped_citizen_id_as_citizen_id() -> None:
    result = validate_any("110105194912310021", today=TODAY)
    assert result.kind == "citizen_id" and not result.valid


def test_validate_any_reports_a_future_birth_date_as_citizen_id() -> None:
    result = validate_any("11010519491231002X", today=datetime.date(1949, 1, 1))
    assert result.kind == "citizen_id" and not result.valid


def test_validate_any_prefers_a_valid_uscc_over_an_invalid_citizen_id() -> None:
    first17 = "11100000199001010"  # authority 1, category 1, a plausible birth date
    code = first17 + uscc_check_char(first17)
    assert not validate_citizen_id(code, TODAY).valid
    assert validate_any(code, today=TODAY).kind == "uscc"


def test_validate_any_treats_digits_without_a_real_date_as_uscc() -> None:
    assert validate_any("110105194913310021", today=TODAY).kind == "uscc"


def test_normalise_strips_and_upper_cases() -> None:
    assert normalise(" 91310115ma8brk2a83 ") == "91310115MA8BRK2A83"


# Properties

authorities_and_categories = st.sampled_from(
    [(a, c) for a, categories in AUTHORITY_CATEGORIES.items() for c in categories]
)
divisions = st.text(alphabet="0123456789", min_size=6, max_size=6)
org_bodies = st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8)


@given(authorities_and_categories, divisions, org_bodies)
def test_made_codes_always_validate_without_warning(
    pair: tuple[str, str], division: str, body: str
) -> None:
    code = make_uscc(pair[0], pair[1], division, make_org_code(body))
    assert validate_uscc(code) == Validation(code, True, "uscc")


@given(
    authorities_and_categories,
    divisions,
    org_bodies,
    st.integers(0, 17),
    st.sampled_from(USCC_ALPHABET + "IOSVZ-*"),
)
def test_any_single_character_substitution_is_detected(
    pair: tuple[str, str], division: str, body: str, index: int, char: str
) -> None:
    code = make_uscc(pair[0], pair[1], division, make_org_code(body))
    if code[index] != char:
        assert not validate_uscc(replace_at(code, index, char)).valid


def test_validate_any_knows_an_all_digit_tax_number_that_is_no_registration_number() -> None:
    # 667788991 is a valid organisation code whose check character is a digit.
    assert validate_registration_number("440301667788991").valid is False
    assert validate_any("440301667788991") == Validation(
        "440301667788991", True, "tax_registration_number"
    )
    # Neither: the registration number's reason, the likelier reading of fifteen digits.
    wrong = validate_any("440301667788992")
    assert not wrong.valid and wrong.kind == "registration_number"
