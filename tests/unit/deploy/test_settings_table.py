"""docs/operations.md documents every setting of every service, as the classes define them."""

from __future__ import annotations

import pytest
from deploy_support import SERVICES, load_script, spec_of

table = load_script("settings_table")


def _rows(service: str) -> dict[str, list[str]]:
    spec_of(service)  # skips a service whose package is absent
    settings = dict(table.available_services())[service]
    lines = table.table(service, settings).splitlines()[4:]
    return {
        cells[0].strip("` "): [c.strip() for c in cells[1:]]
        for cells in (line.strip("|").split(" | ") for line in lines)
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_has_a_row_with_its_variable_default_and_meaning(service: str) -> None:
    spec = spec_of(service)
    settings = dict(table.available_services())[service]
    rows = _rows(service)
    assert set(rows) == set(settings.model_fields)
    for name, (env, default, meaning) in rows.items():
        assert default, name
        assert meaning, f"{service}.{name} has no meaning"
        if name not in {"admin_client_id", "admin_client_secret"}:
            assert env == f"`{spec.prefix}{name.upper()}`"


def test_aliased_settings_list_every_variable_they_read() -> None:
    env, _, meaning = _rows("gateway")["admin_client_secret"]
    assert env == "`CREDIT_ADMIN_CLIENT_SECRET` or `CREDIT_GATEWAY_ADMIN_CLIENT_SECRET`"
    assert meaning.endswith("Required in production.")


def test_the_table_in_the_docs_is_current() -> None:
    spec_of("objections")  # skips while the objections service is absent: it would lack it
    assert table.main(["--check"]) == 0, "run `make settings-table`"
