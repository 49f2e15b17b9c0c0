"""The default due dates of objections and repairs, in working days (DOMAIN.md,
"Objections and their clock"): accept or reject within 2 of filing, the source
department verifies within 5 of acceptance, the decision within 3 of verification (10 in
all); a repair application is decided within 10. No I/O."""

from __future__ import annotations

import os

import pytest

from credit_objections.bootstrap import schedule
from credit_objections.domain.clock import Deadlines
from credit_objections.settings import ObjectionsSettings

# DOMAIN.md's defaults, copied here as literals.
ACCEPT, VERIFY, DECIDE, REPAIR_DECIDE = 2, 5, 3, 10


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> ObjectionsSettings:
    """The settings with no CREDIT_OBJECTIONS_* variable set: the shipped defaults."""
    for name in list(os.environ):
        if name.upper().startswith("CREDIT_OBJECTIONS_"):
            monkeypatch.delenv(name)
    return ObjectionsSettings()


def test_the_settings_default_to_the_stages_domain_md_gives(settings: ObjectionsSettings) -> None:
    assert settings.accept_workdays == ACCEPT
    assert settings.verify_workdays == VERIFY
    assert settings.decide_workdays == DECIDE
    assert settings.repair_decide_workdays == REPAIR_DECIDE


def test_an_objection_takes_ten_working_days_in_all_by_default(
    settings: ObjectionsSettings,
) -> None:
    """As GLEIF's challenge target, within the credit-bureau rule's cap of 20 days."""
    total = settings.accept_workdays + settings.verify_workdays + settings.decide_workdays
    assert total == 10


def test_the_service_schedules_with_the_default_settings(settings: ObjectionsSettings) -> None:
    """What the service builds from its settings, and the domain's own defaults, agree."""
    expected = Deadlines(accept=ACCEPT, verify=VERIFY, decide=DECIDE, repair_decide=REPAIR_DECIDE)
    assert schedule(settings).deadlines == expected
    assert Deadlines() == expected


def test_a_stage_stays_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stage is configurable: a variable overrides its default and leaves the others."""
    for name in list(os.environ):
        if name.upper().startswith("CREDIT_OBJECTIONS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CREDIT_OBJECTIONS_VERIFY_WORKDAYS", "7")
    configured = ObjectionsSettings()
    assert configured.verify_workdays == 7
    assert (configured.accept_workdays, configured.decide_workdays) == (ACCEPT, DECIDE)
