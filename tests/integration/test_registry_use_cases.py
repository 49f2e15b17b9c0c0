"""The registry's use cases against a real database (PostgreSQL or SQLite)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from credit_common.errors import Conflict, InvalidArgument, InvalidTransition, NotFound
from credit_registry import bootstrap as registry_bootstrap
from credit_registry.adapters import repository, tables
from credit_registry.bootstrap import RegistryApp
from credit_registry.domain import codes
from credit_registry.domain.subjects import Kind, LegacyCode, Status, encode_counter
from credit_registry.service_layer import commands
from credit_registry.service_layer import registry as registry_module
from credit_registry.settings import RegistrySettings
from support import samples


def org(**overrides: object) -> commands.Register:
    values: dict[str, object] = {
        "kind": Kind.ORGANIZATION,
        "name": "上海市浦东新区宏远华信建设工程有限公司",
        "registration_authority": "9",
        "org_category": "1",
        "division_code": "310115",
        "actor": "test",
    }
    values.update(overrides)
    return commands.Register(**values)  # type: ignore[arg-type]


async def test_conversion_keeps_the_organisation_code_of_every_sample_subject(
    registry_app: RegistryApp,
) -> None:
    for row in samples.subjects():
        if row["kind"] == "natural_person":
            continue
        subject = await registry_app.registry.register(
            commands.Register(
                kind=Kind(row["kind"]),
                name=row["name"],
                registration_authority=row["registration_authority"],
                org_category=row["org_category"],
                division_code=row["division_code"],
                org_code=row["org_code"],
                legal_representative=row.get("legal_representative", ""),
            )
        )
        assert subject.code == row["code"]
        assert LegacyCode("org_code", row["org_code"]) in subject.legacy_codes


async def test_new_subjects_get_distinct_valid_codes_from_the_configured_range(
    registry_app: RegistryApp,
) -> None:
    first = await registry_app.registry.register(org(name="甲公司"))
    second = await registry_app.registry.register(org(name="乙公司"))
    assert first.code != second.code
    for subject in (first, second):
        check = codes.validate_uscc(subject.code)
        assert check.valid and not check.warnings
        assert subject.org_code.startswith("MA")


async def test_registering_the_same_code_twice_is_a_conflict_and_stores_nothing(
    registry_app: RegistryApp,
) -> None:
    await registry_app.registry.register(org(org_code="MA8BRK2A8"))
    with pytest.raises(Conflict):
        await registry_app.registry.register(org(org_code="MA8BRK2A8", name="另一家"))
    async with registry_app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.subjects)) == 1


async def test_an_allocated_code_a_conversion_took_meanwhile_is_allocated_again(
    registry_app: RegistryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The allocation found a code free; a conversion giving that very code committed
    before the registration did (each looked before the other wrote): the registration is
    tried again with the next code, and each subject holds its own."""
    registry = registry_app.registry
    allocate = registry._allocate_org_code
    converted: list[str] = []

    async def racing() -> str:
        org_code = await allocate()
        if not converted:  # the first time: a conversion takes the code meanwhile
            taken = await registry.register(
                org(org_code=org_code, name="转换的公司", division_code="310000")
            )
            converted.append(taken.org_code)
        return org_code

    monkeypatch.setattr(registry, "_allocate_org_code", racing)
    allocated = await registry.register(org(name="新设的公司"))
    assert converted and allocated.org_code != converted[0]
    async with registry_app.db.read() as conn:
        held = (await conn.execute(sa.select(tables.subjects.c.org_code))).scalars().all()
    assert sorted(held) == sorted([converted[0], allocated.org_code])


async def test_an_allocated_code_converted_between_the_check_and_the_insert_is_allocated_again(
    registry_app: RegistryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversion commits after the registration looked and before it inserted: the
    insert fails on the unique organisation code, and the registration is tried again
    with the next code."""
    registry = registry_app.registry
    insert = repository.SubjectRepository.insert
    converted: list[str] = []

    async def racing(self: repository.SubjectRepository, subject: Any, *args: Any) -> None:
        if not converted and subject.name == "新设的公司":
            taken = await registry.register(
                org(org_code=subject.org_code, name="转换的公司", division_code="310000")
            )
            converted.append(taken.org_code)
        await insert(self, subject, *args)

    monkeypatch.setattr(repository.SubjectRepository, "insert", racing)
    allocated = await registry.register(org(name="新设的公司"))
    assert converted and allocated.org_code != converted[0]
    async with registry_app.db.read() as conn:
        rows = (await conn.execute(sa.select(tables.subjects.c.name))).scalars().all()
    assert sorted(rows) == sorted(["新设的公司", "转换的公司"])


async def test_a_conversion_of_a_code_an_allocation_took_meanwhile_is_a_conflict(
    registry_app: RegistryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other way round: the conversion looked and found its code free, and an
    allocation of that code committed before the conversion inserted: the conversion is
    refused as org_code_taken, and stores nothing."""
    registry = registry_app.registry
    first = await registry.register(org(name="新设的公司"))
    async with registry_app.db.transaction() as conn:  # as if not yet committed
        await conn.execute(sa.update(tables.subjects).values(org_code=None))
    insert = repository.SubjectRepository.insert

    async def racing(self: repository.SubjectRepository, subject: Any, *args: Any) -> None:
        async with registry_app.db.transaction() as conn:  # the allocation commits now
            await conn.execute(sa.update(tables.subjects).values(org_code=first.org_code))
        await insert(self, subject, *args)

    monkeypatch.setattr(repository.SubjectRepository, "insert", racing)
    with pytest.raises(Conflict) as refused:
        await registry.register(
            org(org_code=first.org_code, name="转换的公司", division_code="310000")
        )
    assert refused.value.reason == "org_code_taken"
    async with registry_app.db.read() as conn:
        names = (await conn.execute(sa.select(tables.subjects.c.name))).scalars().all()
    assert names == ["新设的公司"]


async def test_bad_registration_names_every_wrong_field(registry_app: RegistryApp) -> None:
    with pytest.raises(InvalidArgument) as error:
        await registry_app.registry.register(
            org(name="", registration_authority="9", org_category="7", division_code="31")
        )
    fields = {v.field for v in error.value.violations}
    assert fields == {"name", "org_category", "division_code"}


async def test_natural_person_identity_number_is_never_stored_in_clear(
    registry_app: RegistryApp,
) -> None:
    number = "11010519491231002X"
    person = await registry_app.registry.register(
        commands.Register(kind=Kind.NATURAL_PERSON, name="张三", id_number=number)
    )
    assert person.code == number
    async with registry_app.db.read() as conn:
        for table in tables.metadata.sorted_tables:
            for row in await conn.execute(sa.select(table)):
                assert number not in repr(tuple(row)), table.name
                assert number.encode() not in b"".join(v for v in row if isinstance(v, bytes))
    found = await registry_app.registry.get(number.lower())
    assert found.subject is not None and found.subject.name == "张三"


async def test_a_person_born_on_chinas_date_registers_while_it_is_still_the_day_before_in_utc(
    registry_app: RegistryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    china_morning = dt.datetime(2026, 3, 4, 17, 0, tzinfo=dt.UTC)  # 2026-03-05 01:00 China
    monkeypatch.setattr(registry_module, "utcnow", lambda: china_morning)
    number = "110105202603050022"  # born 2026-03-05
    [checked] = await registry_app.registry.validate([number], check_registered=False)
    assert checked.validation.valid and checked.validation.kind == "citizen_id", checked
    person = await registry_app.registry.register(
        commands.Register(kind=Kind.NATURAL_PERSON, name="新生", id_number=number)
    )
    assert person.code == number
    later = "110105202603060028"  # born 2026-03-06: after China's date too
    [checked] = await registry_app.registry.validate([later], check_registered=False)
    assert checked.validation.reason == "birth date 2026-03-06 is in the future"


async def test_a_legacy_code_finds_the_subject_and_names_the_canonical_code(
    registry_app: RegistryApp,
) -> None:
    subject = await registry_app.registry.register(
        org(
            org_code="MA8BRK2A8",
            legacy_codes=[LegacyCode("registration_number", "110108000000016")],
        )
    )
    for legacy in ("MA8BRK2A8", "110108000000016"):
        resolution = await registry_app.registry.get(legacy)
        assert resolution.subject is not None and resolution.subject.code == subject.code


async def test_an_invalid_legacy_code_is_refused(registry_app: RegistryApp) -> None:
    with pytest.raises(InvalidArgument):
        await registry_app.registry.register(
            org(legacy_codes=[LegacyCode("registration_number", "110108000000017")])
        )


async def test_a_name_change_keeps_the_former_name(registry_app: RegistryApp) -> None:
    subject = await registry_app.registry.register(org(name="旧名称有限公司"))
    updated = await registry_app.registry.update(
        commands.Update(code=subject.code, name="新名称有限公司", actor="t")
    )
    assert updated.name == "新名称有限公司"
    assert [n for n, _ in updated.former_names] == ["旧名称有限公司"]


async def test_status_changes_need_a_reason_and_follow_the_rules(registry_app: RegistryApp) -> None:
    subject = await registry_app.registry.register(org())
    with pytest.raises(InvalidArgument):
        await registry_app.registry.update(
            commands.Update(code=subject.code, status=Status.REVOKED)
        )
    revoked = await registry_app.registry.update(
        commands.Update(code=subject.code, status=Status.REVOKED, reason="吊销")
    )
    assert revoked.status == Status.REVOKED
    assert [s for s, *_ in revoked.status_history] == [Status.ACTIVE, Status.REVOKED]
    await registry_app.registry.update(
        commands.Update(code=subject.code, status=Status.DEREGISTERED, reason="注销")
    )
    with pytest.raises(InvalidTransition):
        await registry_app.registry.update(
            commands.Update(code=subject.code, status=Status.ACTIVE, reason="x")
        )


async def test_a_merged_code_answers_with_the_survivor(registry_app: RegistryApp) -> None:
    survivor = await registry_app.registry.register(org(name="存续公司"))
    duplicate = await registry_app.registry.register(org(name="重复公司"))
    merged = await registry_app.registry.merge(
        commands.Merge(code=duplicate.code, into=survivor.code, reason="重复登记")
    )
    assert merged.code == survivor.code and duplicate.code in merged.merged_codes
    resolution = await registry_app.registry.get(duplicate.code)
    assert resolution.subject is not None and resolution.subject.code == survivor.code
    with pytest.raises(InvalidTransition):
        await registry_app.registry.merge(
            commands.Merge(code=duplicate.code, into=survivor.code, reason="again")
        )
    # "Deregister the duplicate", sent by its code after the merge: refused, and the
    # survivor is left as it was.
    with pytest.raises(InvalidTransition) as refused:
        await registry_app.registry.update(
            commands.Update(
                code=duplicate.code, name="改名", status=Status.DEREGISTERED, reason="注销重复"
            )
        )
    assert refused.value.reason == "invalid_transition"
    after = await registry_app.registry.get(survivor.code)
    assert after.subject is not None
    assert (after.subject.name, after.subject.status) == ("存续公司", Status.ACTIVE)


async def test_unknown_codes_are_not_found(registry_app: RegistryApp) -> None:
    with pytest.raises(NotFound):
        await registry_app.registry.get("91310115MA8BRK2A83")


async def test_search_finds_substrings_small_differences_and_code_prefixes(
    registry_app: RegistryApp,
) -> None:
    for row in samples.subjects()[:60]:
        if row["kind"] != "natural_person":
            await registry_app.registry.register(
                commands.Register(
                    kind=Kind(row["kind"]),
                    name=row["name"],
                    registration_authority=row["registration_authority"],
                    org_category=row["org_category"],
                    division_code=row["division_code"],
                    org_code=row["org_code"],
                )
            )
    target = samples.subjects()[0]
    found, _ = await registry_app.registry.search(commands.Search(q="宏远华信"))
    assert target["code"] in [s.code for s in found]
    typo = target["name"].replace("华信", "华新")
    found, _ = await registry_app.registry.search(commands.Search(q=typo))
    assert found and found[0].code == target["code"]
    found, _ = await registry_app.registry.search(commands.Search(q=target["code"][:10]))
    assert target["code"] in [s.code for s in found]


async def test_search_pages_through_results(registry_app: RegistryApp) -> None:
    for i in range(7):
        await registry_app.registry.register(org(name=f"翻页测试公司{i}"))
    seen: list[str] = []
    offset = 0
    while True:
        page, nxt = await registry_app.registry.search(
            commands.Search(q="翻页测试", page_size=3, offset=offset)
        )
        seen += [s.code for s in page]
        if nxt is None:
            break
        offset = nxt
    assert len(seen) == len(set(seen)) == 7


async def test_a_common_fragment_pages_through_its_matches_in_id_order(
    registry_app: RegistryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fragment found often among the first subjects by id is answered by walking them in
    id order; the sample is made small here, so deeper pages widen the walk and the last
    one reaches the end of the table."""
    monkeypatch.setattr(repository, "SEARCH_SAMPLE", 8)
    monkeypatch.setattr(repository, "COMMON_MATCHES", 1)
    common = set()
    for i in range(30):
        subject = await registry_app.registry.register(org(name=f"常见片段贸易{i}号有限公司"))
        common.add(subject.code)
    for i in range(10):
        await registry_app.registry.register(org(name=f"其他名称商店{i}"))
    seen = []
    offset: int | None = 0
    while offset is not None:
        page, offset = await registry_app.registry.search(
            commands.Search(q="常见片段", page_size=4, offset=offset)
        )
        seen += page
    assert len(seen) == 30 and {s.code for s in seen} == common
    assert [s.id for s in seen] == sorted(s.id for s in seen)  # not by name length
    # A rare fragment is still ranked shortest name first.
    monkeypatch.setattr(repository, "COMMON_MATCHES", 64)
    found, _ = await registry_app.registry.search(commands.Search(q="常见片段"))
    assert [len(s.name) for s in found] == sorted(len(s.name) for s in found)
    assert {s.code for s in found} == common


async def test_a_two_character_text_finds_the_names_containing_it_and_the_codes_it_starts(
    registry_app: RegistryApp,
) -> None:
    """Two characters are too few for a trigram: on PostgreSQL the names' two-character
    pieces are indexed instead (migration 0004); the answer is the same on either database."""
    shop = await registry_app.registry.register(org(name="宏远商店"))
    company = await registry_app.registry.register(org(name="北京宏远科技有限公司"))
    await registry_app.registry.register(org(name="远宏贸易公司"))
    found, _ = await registry_app.registry.search(commands.Search(q="宏远"))
    assert [s.code for s in found[:2]] == [shop.code, company.code]
    assert all("宏远" in s.name for s in found[:2])
    found, _ = await registry_app.registry.search(commands.Search(q="91"))
    assert {shop.code, company.code} <= {s.code for s in found}  # by code prefix
    if registry_app.db.engine.dialect.name == "postgresql":
        async with registry_app.db.read() as conn:
            pieces = await conn.scalar(sa.text("SELECT name_bigrams('宏远华信')"))
        assert sorted(pieces) == ["华信", "宏远", "远华"]


async def test_a_text_of_common_words_finds_its_near_miss_not_every_name_alike_in_them(
    registry_app: RegistryApp,
) -> None:
    """凯有限责任公司 shares 有限责任公司 with every such name, enough for trigram
    similarity. On PostgreSQL similar names are gathered through the text's distinctive
    trigrams (name_sample.py): the near miss 凯达有限责任公司 comes, names alike only in
    有限责任公司 do not. Either way the near miss comes first."""
    target = await registry_app.registry.register(org(name="凯达有限责任公司"))
    others = set()
    for char in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉":
        others.add((await registry_app.registry.register(org(name=f"{char}有限责任公司"))).code)
    found, _ = await registry_app.registry.search(commands.Search(q="凯有限责任公司"))
    assert found and found[0].code == target.code
    if registry_app.db.engine.dialect.name == "postgresql":
        assert [s.code for s in found] == [target.code]
    else:
        assert {s.code for s in found[1:]} <= others


async def test_the_most_similar_name_comes_first_among_hundreds_of_similar_ones(
    registry_app: RegistryApp,
) -> None:
    """Every similar name is ranked, not only the first few hundred the database yields;
    and a page far beyond the last match is empty, not an error."""
    for i in range(300):
        await registry_app.registry.register(org(name=f"凯达国际物流{i}"))
    near_miss = await registry_app.registry.register(org(name="凯达国际贸异"))
    found, _ = await registry_app.registry.search(commands.Search(q="凯达国际贸易"))
    assert found and found[0].code == near_miss.code
    page, after = await registry_app.registry.search(
        commands.Search(q="凯达国际", page_size=5, offset=10**12)
    )
    assert page == [] and after is None


async def test_natural_persons_can_be_left_out_of_name_search(registry_app: RegistryApp) -> None:
    await registry_app.registry.register(
        commands.Register(kind=Kind.NATURAL_PERSON, name="王小明", id_number="11010519491231002X")
    )
    found, _ = await registry_app.registry.search(commands.Search(q="王小明"))
    assert len(found) == 1
    found, _ = await registry_app.registry.search(
        commands.Search(q="王小明", exclude_natural_persons_by_name=True)
    )
    assert found == []


async def test_batch_validation_takes_ten_thousand_codes_and_refuses_more(
    registry_app: RegistryApp,
) -> None:
    subject = await registry_app.registry.register(org())
    batch = [subject.code] + ["91310115MA8BRK2A84"] * 9_999
    results = await registry_app.registry.validate(batch, check_registered=True)
    assert len(results) == 10_000
    assert results[0].validation.valid and results[0].registered
    assert not results[1].validation.valid and not results[1].registered
    with pytest.raises(InvalidArgument) as error:
        await registry_app.registry.validate([*batch, "x"], check_registered=False)
    assert error.value.reason == "batch_too_large"


async def test_batch_validation_says_which_codes_are_registered_under_every_kind_of_key(
    registry_app: RegistryApp,
) -> None:
    """The registered check looks codes up while they are validated: each kind of key
    (unified code, organisation code, legacy registration number, identity number) is
    found, and an invalid or unknown code is never registered."""
    registry = registry_app.registry
    subject = await registry.register(
        org(
            org_code="MA8BRK2A8",
            legacy_codes=[LegacyCode("registration_number", "110108000000016")],
        )
    )
    await registry.register(
        commands.Register(kind=Kind.NATURAL_PERSON, name="张三", id_number="11010519491231002X")
    )
    batch = (
        [
            subject.code.lower(),  # registered, given in lower case
            "MA8BRK2A8",  # its organisation code
            "110108000000016",  # its legacy registration number
            "11010519491231002x",  # a registered person
            "91350100M0001TGQXM",  # valid, not registered
            subject.code[:-1] + ("0" if subject.code[-1] != "0" else "1"),  # check fails
            "11010519491231003X",  # a person's number that fails its check
        ]
        * 300
    )
    results = await registry.validate(batch, check_registered=True)
    flags = [(r.validation.valid, r.registered) for r in results[:7]]
    assert flags == [
        (True, True),
        (True, True),
        (True, True),
        (True, True),
        (True, False),
        (False, False),
        (False, False),
    ]
    assert [(r.validation.valid, r.registered) for r in results] == flags * 300
    unchecked = await registry.validate(batch[:7], check_registered=False)
    assert [r.registered for r in unchecked] == [False] * 7


async def test_an_all_digit_unified_code_that_passes_the_identity_check_is_found_as_itself(
    registry_app: RegistryApp,
) -> None:
    """911101198506120039 is a valid unified code (division 110119, organisation code
    850612003) and also a valid identity number (born 12 June 1985). Registered as an
    organisation, it is found and checked as one; unregistered, it reads as a person."""
    registry = registry_app.registry
    code = "911101198506120039"
    assert codes.validate_any(code).kind == "citizen_id"
    subject = await registry.register(org(division_code="110119", org_code="850612003"))
    assert subject.code == code
    assert (await registry.get(code)).subject.id == subject.id
    [checked] = await registry.validate([code], check_registered=True)
    assert checked.registered and checked.validation.kind == "uscc"
    other = "911101198506160049"  # the same shape, not registered
    [unknown] = await registry.validate([other], check_registered=True)
    assert not unknown.registered and unknown.validation.kind == "citizen_id"


async def test_every_change_writes_an_event_in_the_same_transaction(
    registry_app: RegistryApp,
) -> None:
    a = await registry_app.registry.register(org(name="事件甲"))
    b = await registry_app.registry.register(org(name="事件乙"))
    await registry_app.registry.update(commands.Update(code=a.code, name="事件甲二"))
    await registry_app.registry.update(
        commands.Update(code=a.code, status=Status.REVOKED, reason="r")
    )
    await registry_app.registry.merge(commands.Merge(code=b.code, into=a.code, reason="dup"))
    async with registry_app.db.read() as conn:
        types = list(
            await conn.scalars(sa.select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq))
        )
    assert types == [
        "subject.registered",
        "subject.registered",
        "subject.updated",
        "subject.status_changed",
        "subject.merged",
    ]


def _all_digit_code_that_passes_the_identity_check() -> tuple[str, str]:
    for n in range(10_000_000):
        body = f"{20000000 + n:08d}"
        if codes.org_code_check_char(body) == "X":
            continue
        org_code = codes.make_org_code(body)
        code = codes.make_uscc("9", "1", "310115", org_code)
        if code.isdigit() and codes.validate_citizen_id(code).valid:
            return code, org_code
    raise AssertionError("no such code")


async def test_an_all_digit_unified_code_that_looks_like_an_identity_number_is_found(
    registry_app: RegistryApp,
) -> None:
    code, org_code = _all_digit_code_that_passes_the_identity_check()
    subject = await registry_app.registry.register(org(org_code=org_code))
    assert subject.code == code
    found = await registry_app.registry.get(code)
    assert found.subject is not None and found.subject.code == code


async def test_bulk_resolution_without_details_answers_the_summary_and_follows_merges(
    registry_app: RegistryApp,
) -> None:
    registry = registry_app.registry
    kept = await registry.register(org(name="存续公司"))
    gone = await registry.register(org(name="被合并公司"))
    person = await registry.register(
        commands.Register(kind=Kind.NATURAL_PERSON, name="李四", id_number="11010519491231002X")
    )
    await registry.merge(
        commands.Merge(code=gone.code, into=kept.code, reason="吸收合并", actor="t")
    )
    resolved = await registry.resolve(
        [gone.code, "11010519491231002X", "91310115MA8BRK2A83"], details=False
    )
    by_code = {r.requested: r.subject for r in resolved}
    assert by_code["91310115MA8BRK2A83"] is None
    survivor = by_code[gone.code]
    assert survivor is not None and survivor.id == kept.id and survivor.name == "存续公司"
    assert survivor.status == Status.ACTIVE and survivor.key == kept.code
    assert survivor.former_names == [] and survivor.created_at is None  # no details loaded
    found_person = by_code["11010519491231002X"]
    assert found_person is not None and found_person.id == person.id
    assert found_person.kind == Kind.NATURAL_PERSON and found_person.key.startswith("P")


async def test_a_code_or_query_with_a_nul_character_is_not_found_or_refused(
    registry_app: RegistryApp,
) -> None:
    resolved = await registry_app.registry.resolve(["\x00ÛQÃ", "91310115MA1K4\x00"])
    assert [r.subject for r in resolved] == [None, None]
    with pytest.raises(InvalidArgument):
        await registry_app.registry.search(commands.Search(q="有限\x00公司"))


LISTED = "91350100M0001TGQXM"  # the shipped exception: its check character would be 1


async def test_a_conversion_of_a_listed_exception_gets_the_code_legally_issued(
    registry_app: RegistryApp,
) -> None:
    registry = registry_app.registry
    subject = await registry.register(
        org(name="福州试点企业", division_code="350100", org_code="M0001TGQX")
    )
    assert subject.code == LISTED and subject.key == LISTED
    for code in (LISTED, LISTED.lower(), "M0001TGQX"):
        found = await registry.get(code)
        assert found.subject is not None and found.subject.id == subject.id, code
    [checked] = await registry.validate([LISTED], check_registered=True)
    assert checked.registered and checked.validation.note == codes.EXCEPTION_NOTE
    with pytest.raises(Conflict) as error:  # the listed code is held: no second holder
        await registry.register(org(name="另一家", division_code="350100", org_code="M0001TGQX"))
    assert error.value.reason == "already_registered"


async def test_allocation_never_hands_out_the_organisation_code_of_a_listed_exception(
    registry_settings: RegistrySettings,
) -> None:
    first = codes.make_org_code("MA" + encode_counter(1, 6))  # what allocation gives first
    computed = codes.make_uscc("9", "1", "310115", first)
    listed = computed[:17] + ("0" if computed[17] != "0" else "1")
    settings = registry_settings.model_copy(update={"code_exceptions": listed})
    registry_bootstrap.migrate(settings)
    app = registry_bootstrap.build(settings)
    try:
        new = await app.registry.register(org(name="新设公司"))
        assert new.org_code != first and new.code != listed
        assert new.org_code == codes.make_org_code("MA" + encode_counter(2, 6))
        holder = await app.registry.register(org(name="试点企业", org_code=first))
        assert holder.code == listed
    finally:
        await app.db.dispose()


async def test_a_legacy_org_code_other_than_the_embedded_one_is_refused_and_nothing_stored(
    registry_app: RegistryApp,
) -> None:
    registry = registry_app.registry
    other = codes.make_org_code("10000001")
    for command in (
        org(org_code="MA8BRK2A8", legacy_codes=[LegacyCode("org_code", other)]),
        org(legacy_codes=[LegacyCode("org_code", other)]),  # a new code embeds a new one
        # A tax registration number embeds its organisation code in positions 7-15.
        org(
            org_code="MA8BRK2A8",
            legacy_codes=[LegacyCode("tax_registration_number", f"310115{other}")],
        ),
    ):
        with pytest.raises(InvalidArgument) as error:
            await registry.register(command)
        assert [v.field for v in error.value.violations] == ["legacy_codes.0.value"]
    async with registry_app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.subjects)) == 0
    same = await registry.register(
        org(
            org_code="MA8BRK2A8",
            legacy_codes=[
                LegacyCode("org_code", "ma8brk2a8"),
                LegacyCode("tax_registration_number", "310115MA8BRK2A8"),
            ],
        )
    )
    assert same.legacy_codes == [
        LegacyCode("org_code", "MA8BRK2A8"),
        LegacyCode("tax_registration_number", "310115MA8BRK2A8"),
    ]
    found = await registry.get("MA8BRK2A8")
    assert found.subject is not None and found.subject.id == same.id


async def test_a_change_that_repeats_the_current_status_applies_the_rest(
    registry_app: RegistryApp,
) -> None:
    registry = registry_app.registry
    subject = await registry.register(org(legal_representative="张三"))
    updated = await registry.update(
        commands.Update(
            code=subject.code, legal_representative="王五", status=Status.ACTIVE, reason="sync"
        )
    )
    assert updated.legal_representative == "王五" and updated.status == Status.ACTIVE
    assert [s for s, *_ in updated.status_history] == [Status.ACTIVE]
    again = await registry.update(commands.Update(code=subject.code, status=Status.ACTIVE))
    assert again.legal_representative == "王五" and len(again.status_history) == 1
    async with registry_app.db.read() as conn:
        types = list(
            await conn.scalars(sa.select(tables.outbox.c.event_type).order_by(tables.outbox.c.seq))
        )
    assert types == ["subject.registered", "subject.updated"]


async def test_allocation_passes_over_organisation_codes_already_held(
    registry_app: RegistryApp,
) -> None:
    """A converted subject keeps its organisation code, which may lie in the allocation
    range (the default prefix MA is the one real authorities use): a new subject never gets
    an organisation code a subject holds as its own or as a legacy code."""
    registry = registry_app.registry
    first, second, third = (codes.make_org_code("MA" + encode_counter(n, 6)) for n in (1, 2, 3))
    converted = await registry.register(org(name="转换企业", org_code=first))
    async with registry_app.db.transaction() as conn:  # held only as a legacy code
        await conn.execute(
            sa.insert(tables.legacy_codes).values(
                type="org_code", value=second, subject_id=converted.id
            )
        )
    new = await registry.register(org(name="新设公司"))  # the same division
    assert new.org_code == third and new.code != converted.code
    elsewhere = await registry.register(org(name="外区新设", division_code="310116"))
    assert elsewhere.org_code not in {first, second, third}


async def test_a_conversion_to_an_organisation_code_another_subject_holds_is_a_conflict(
    registry_app: RegistryApp,
) -> None:
    registry = registry_app.registry
    allocated = await registry.register(org(name="新设公司"))
    with pytest.raises(Conflict) as error:
        await registry.register(
            org(name="另一家", division_code="310116", org_code=allocated.org_code)
        )
    assert error.value.reason == "org_code_taken"
    assert error.value.metadata == {"org_code": allocated.org_code}
    converted = await registry.register(org(name="转换企业", org_code="MA8BRK2A8"))
    with pytest.raises(Conflict) as error:
        await registry.register(org(name="再一家", division_code="310116", org_code="MA8BRK2A8"))
    assert error.value.reason == "org_code_taken"
    async with registry_app.db.read() as conn:
        held = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(tables.subjects)
            .where(tables.subjects.c.org_code.in_([allocated.org_code, converted.org_code]))
        )
    assert held == 2


async def test_identical_registrations_at_the_same_moment_give_one_subject_and_conflicts(
    registry_app: RegistryApp,
) -> None:
    """Each registration checks, then inserts: at the same moment (on PostgreSQL truly in
    parallel; on SQLite writers take turns) all but one lose, and each loser hears why."""
    registry = registry_app.registry

    async def outcomes(commands_: list[commands.Register]) -> list[str]:
        results = await asyncio.gather(
            *(registry.register(c) for c in commands_), return_exceptions=True
        )
        reasons = []
        for result in results:
            if isinstance(result, Conflict):
                reasons.append(result.reason)
            elif isinstance(result, BaseException):
                raise result
            else:
                reasons.append("registered")
        return sorted(reasons)

    same = org(org_code="MA8BRK2A8")
    assert await outcomes([same] * 8) == ["already_registered"] * 7 + ["registered"]
    number = [LegacyCode("registration_number", "110108000000016")]
    others = [
        org(name=f"企业{n}", org_code=codes.make_org_code(f"2000000{n}"), legacy_codes=number)
        for n in range(8)
    ]
    assert await outcomes(others) == ["legacy_code_taken"] * 7 + ["registered"]
    async with registry_app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.subjects)) == 2


async def test_a_legacy_value_maps_to_one_subject_whatever_its_type(
    registry_app: RegistryApp,
) -> None:
    """310115000000107 is valid both as a registration number and as a tax registration
    number: once mapped under either, it is taken, and a lookup by it finds one subject."""
    registry = registry_app.registry
    value = "310115000000107"
    first = await registry.register(
        org(name="甲公司", legacy_codes=[LegacyCode("registration_number", value)])
    )
    with pytest.raises(Conflict) as error:
        await registry.register(
            org(
                name="乙公司",
                org_code="000000107",
                legacy_codes=[LegacyCode("tax_registration_number", value)],
            )
        )
    assert error.value.reason == "legacy_code_taken"
    with pytest.raises(InvalidArgument) as refused:  # one value, two types, one request
        await registry.register(
            org(
                name="丙公司",
                org_code="000000107",
                legacy_codes=[
                    LegacyCode("registration_number", value),
                    LegacyCode("tax_registration_number", value),
                ],
            )
        )
    assert [v.field for v in refused.value.violations] == ["legacy_codes.1.value"]
    found = await registry.get(value)
    assert found.subject is not None and found.subject.id == first.id
    async with registry_app.db.transaction() as conn:
        with pytest.raises(sa.exc.IntegrityError):  # the database holds to it too
            async with conn.begin_nested():
                await conn.execute(
                    sa.insert(tables.legacy_codes).values(
                        type="tax_registration_number", value=value, subject_id=first.id
                    )
                )


async def test_a_natural_person_is_refused_legacy_codes_and_nothing_stored(
    registry_app: RegistryApp,
) -> None:
    """A person is found only by the identity number (through its keyed hash): a legacy
    code would find a person by a number shown in clear."""
    with pytest.raises(InvalidArgument) as error:
        await registry_app.registry.register(
            commands.Register(
                kind=Kind.NATURAL_PERSON,
                name="张三",
                id_number="11010519491231002X",
                legacy_codes=[LegacyCode("registration_number", "310115000000107")],
            )
        )
    assert [v.field for v in error.value.violations] == ["legacy_codes"]
    assert error.value.reason == "invalid_argument"
    async with registry_app.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.subjects)) == 0
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.legacy_codes)) == 0
