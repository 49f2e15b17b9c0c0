import pytest

from credit_common.masking import is_person_key, mask_id_number, mask_id_numbers_in, mask_name
from credit_registry.adapters.crypto import IdentityProtector


def test_an_identity_number_keeps_its_first_six_and_last_four_characters() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_a_short_number_is_masked_entirely() -> None:
    assert mask_id_number("1234567890") == "**********"


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李"), ("", "")]
)
def test_a_name_keeps_only_its_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_a_person_key_is_told_from_an_organisations_code() -> None:
    """The records service keeps a person's negative records shorter (征信业管理条例 art.
    16) by the shape of the key the registry gives a person."""
    key = IdentityProtector("e" * 32, "h" * 32).lookup_key("11010519491231002X")
    assert is_person_key(key)
    assert not is_person_key("91310115MA1K3YJ58Y")
    assert not is_person_key("P" + "0" * 63)


def test_identity_numbers_typed_into_a_text_are_masked_where_they_stand() -> None:
    """A department may name a person in free text (违法事实): the number is masked as the
    person's own would be; other long numbers, codes, and numbers inside longer runs are
    left, and so are numbers whose check character fails."""
    text = "当事人张某（身份证110105199001011486）于2025年"
    assert mask_id_numbers_in(text) == "当事人张某（身份证110105********1486）于2025年"
    assert mask_id_numbers_in("身份证号 11010519491231002x。") == "身份证号 110105********002X。"
    untouched = [
        "110105199001011487",  # a check character that fails
        "A110105199001011486",  # inside a longer run
        "1101051990010114861",
        "91310115MA8BRK2A83",  # a unified code
        "罚款20000元",
    ]
    for value in untouched:
        assert mask_id_numbers_in(value) == value
    fields = {"facts": [text, 5], "n": 1.5, "nested": {"note": "110105199001011486"}}
    assert mask_id_numbers_in(fields) == {
        "facts": ["当事人张某（身份证110105********1486）于2025年", 5],
        "n": 1.5,
        "nested": {"note": "110105********1486"},
    }
