import pytest

from credit_common.masking import mask_id_number, mask_name


def test_an_identity_number_keeps_its_first_six_and_last_four_characters() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_a_short_number_is_masked_entirely() -> None:
    assert mask_id_number("1234567890") == "**********"


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李"), ("", "")]
)
def test_a_name_keeps_only_its_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked
