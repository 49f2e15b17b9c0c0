"""The name sample: which trigrams of a search text gather its similar names."""

from __future__ import annotations

from credit_registry.service_layer.name_sample import NameSample

NAMES = [f"{c}有限责任公司" for c in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"] * 10


async def sample() -> NameSample:
    async def load() -> list[str]:
        return [*NAMES, "凯达有限责任公司"]

    return NameSample(load)


async def test_a_text_of_common_trigrams_is_narrowed_to_its_rare_ones() -> None:
    narrowing = await (await sample()).narrowing("凯有限责任公司")
    assert narrowing is not None
    assert set(narrowing) == {"  凯", " 凯有", "凯有限"}  # never 有限责, 公司 and the like


async def test_a_text_of_several_words_is_narrowed_without_its_word_edges() -> None:
    narrowing = await (await sample()).narrowing("凯达兴 有限责任公司")
    assert narrowing == ["凯达兴"]  # not "  凯": 凯达兴 need not start the name


async def test_a_text_of_rare_trigrams_is_left_to_the_index() -> None:
    assert await (await sample()).narrowing("宏远华信建设") is None


async def test_no_sample_no_narrowing() -> None:
    async def failing() -> list[str]:
        raise OSError("database down")

    assert await NameSample(failing).narrowing("凯有限责任公司") is None
