"""The demo registry shows every verdict case it promises, today and at past dates."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, func, select

from registry.accounts.models import RoleMembership
from registry.assessments.models import SelfAssessment
from registry.demo.services import CASES, load_demo
from registry.providers.models import Provider
from registry.settings import Settings
from registry.timeutil import today
from registry.trust import services
from registry.vocabulary import ASSESSMENT_STATES, PROVIDER_TYPES, ROLES


@pytest.fixture
def demo(session: Session) -> Session:
    assert load_demo(session)["loaded"] is True
    return session


def _status(session: Session, settings: Settings, identifier: str, days: int = 0, **scope: str) -> str:
    now = dt.datetime.now(dt.UTC)
    at = (today() + dt.timedelta(days=days)).isoformat()
    query = services.parse_query({"identifier": identifier, "at": at, **scope}, now)
    return str(services.verdict(session, query, settings, now)["status"])


class TestDemoRegistry:
    @pytest.mark.parametrize("case", CASES, ids=[case.slug for case in CASES])
    def test_each_case_has_its_promised_verdict_today(self, demo: Session, settings: Settings, case) -> None:  # type: ignore[no-untyped-def]
        assert _status(demo, settings, f"did:web:{case.slug}.example") == case.expect

    def test_past_dates_keep_their_old_verdicts(self, demo: Session, settings: Settings) -> None:
        assert _status(demo, settings, "did:web:ridgefield.example", -101) == "trusted"
        assert _status(demo, settings, "did:web:oldgate.example", -401) == "trusted"
        assert _status(demo, settings, "did:web:westbury.example", -366) == "trusted"
        assert _status(demo, settings, "did:web:eastbury.example", -366) == "not_trusted"
        assert _status(demo, settings, "did:web:brightpath.example", -31) == "trusted"
        assert _status(demo, settings, "did:web:hollowmere.example", -1000) == "trusted"
        assert _status(demo, settings, "did:web:tidewater.example", 46) == "expired"
        assert _status(demo, settings, "did:web:dawnridge.example", 30) == "trusted"

    def test_scoped_cases(self, demo: Session, settings: Settings) -> None:
        programme = "urn:demo:skillforge:data-analytics"
        assert _status(demo, settings, "did:web:skillforge.example", programme=programme) == "trusted"
        assert _status(demo, settings, "did:web:chartered.example", eqf_level="8") == "not_covered"
        assert _status(demo, settings, "did:web:chartered.example", eqf_level="7", field="0713") == "trusted"

    def test_breadth_of_the_demo(self, demo: Session) -> None:
        demo_providers = demo.exec(select(Provider).where(Provider.is_demo == True)).all()  # noqa: E712
        assert len(demo_providers) >= 40
        assert len({p.country_iso2 for p in demo_providers}) >= 8
        assert {p.provider_type for p in demo_providers} == set(PROVIDER_TYPES)
        assert {a.state for a in demo.exec(select(SelfAssessment))} >= set(ASSESSMENT_STATES)
        assert {m.role for m in demo.exec(select(RoleMembership))} == set(ROLES)
        assert all(p.website and p.website.endswith(".example") for p in demo_providers)

    def test_pending_request_is_invisible_to_verifiers(self, demo: Session, settings: Settings) -> None:
        assert demo.exec(select(func.count()).where(Provider.confirmed == False)).one() == 1  # noqa: E712
        assert _status(demo, settings, "pending.example") == "unknown"

    def test_loading_twice_changes_nothing(self, demo: Session) -> None:
        count = demo.exec(select(func.count()).select_from(Provider)).one()
        assert load_demo(demo) == {"loaded": False}
        assert demo.exec(select(func.count()).select_from(Provider)).one() == count
