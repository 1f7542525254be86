from __future__ import annotations

import datetime as dt

from litestar.testing import TestClient
from sqlmodel import Session

from registry.assessments.models import SelfAssessment
from registry.audit.services import Actor
from registry.qa.services import ResultInput, record_result
from registry.timeutil import today, utcnow
from tests.conftest import sign_in
from tests.factories import World


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("</section>", start)
    return html[start:end]


class TestDashboard:
    def test_agency_staff_see_their_agencys_deadlines_reviews_and_changes_only(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        day = today()
        record_result(
            session,
            ResultInput(
                agency_id=world.agency_b,
                provider_ids=[world.provider_q],
                activity_type="institutional",
                status="voluntary",
                decision="positive with conditions or restrictions",
                valid_from=day - dt.timedelta(days=100),
                valid_to=day + dt.timedelta(days=400),
                conditions_due=day + dt.timedelta(days=20),
            ),
            Actor("test"),
        )
        session.add(SelfAssessment(provider_id=world.provider_p, state="submitted", submitted_at=utcnow()))
        session.commit()

        sign_in(client, world.emails["reviewer_a"])
        page = client.get("/staff").text
        # Agency A's result about Alpha ends in 90 days; B's conditions follow-up is not A's business.
        assert "Alpha Test University" in _section(page, "expiring")
        assert "Quiet Test Academy" not in _section(page, "conditions")
        assert "Alpha Test University" in _section(page, "waiting")
        assert "result.record" in _section(page, "recent")

        client.post("/signout", data={"_csrf_token": client.cookies.get("registry_csrf")})
        sign_in(client, world.emails["editor_b"])
        page = client.get("/staff").text
        assert "Alpha Test University" not in _section(page, "expiring")
        assert "Quiet Test Academy" in _section(page, "conditions")
        assert "Alpha Test University" not in _section(page, "waiting")

    def test_provider_staff_see_their_provider_and_its_deadlines(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        page = client.get("/staff").text
        assert "Your provider" in page and "Alpha Test University" in page
        assert 'id="expiring"' not in page
