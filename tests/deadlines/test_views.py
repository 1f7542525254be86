"""The operators' change list, verdict changes on provider pages, and staff calendar feeds."""

from __future__ import annotations

import datetime as dt

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.deadlines.models import CalendarFeed, ProviderStatusEvent
from tests.conftest import post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


def _flip(session: Session, provider_id: int) -> None:
    session.add(
        ProviderStatusEvent(
            provider_id=provider_id,
            occurred_on=dt.date(2026, 3, 1),
            kind="verdict_change",
            from_status="trusted",
            to_status="expired",
            detail="The last covering result ended.",
            dedupe_key=f"test-{provider_id}",
        )
    )
    session.commit()


class TestChanges:
    def test_operators_see_verdict_changes_and_so_do_provider_pages(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        _flip(session, world.provider_p)
        public = client.get(f"/providers/{world.provider_p}", headers=HTML)
        assert "trusted → expired" in public.text
        sign_in(client, world.emails["operator"])
        changes = client.get("/staff/changes/", headers=HTML)
        assert changes.status_code == 200
        assert "The last covering result ended." in changes.text
        assert f'href="/staff/providers/{world.provider_p}"' in changes.text
        staff = client.get(f"/staff/providers/{world.provider_p}", headers=HTML)
        assert "trusted → expired" in staff.text

    def test_the_change_list_is_for_operators(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        assert client.get("/staff/changes/", headers=HTML).status_code == 403


class TestCalendars:
    def test_an_editor_issues_and_renews_the_agency_feed(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        page = client.get("/staff/calendars/", headers=HTML)
        assert "not issued yet" in page.text
        assert post_form(client, "/staff/calendars/", {"owner": f"agency:{world.agency_a}"}).status_code == 303
        feed = session.exec(select(CalendarFeed).where(CalendarFeed.agency_id == world.agency_a)).one()
        first = feed.token
        page = client.get("/staff/calendars/", headers=HTML)
        assert f"/calendars/{first}.ics" in page.text
        assert client.get(f"/calendars/{first}.ics").status_code == 200
        post_form(client, "/staff/calendars/", {"owner": f"agency:{world.agency_a}", "regenerate": "yes"})
        session.expire_all()
        renewed = session.exec(select(CalendarFeed).where(CalendarFeed.agency_id == world.agency_a)).one().token
        assert renewed != first
        assert client.get(f"/calendars/{first}.ics").status_code == 404

    def test_nobody_manages_another_agencys_feed(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(client, "/staff/calendars/", {"owner": f"agency:{world.agency_b}"}, headers=HTML)
        assert response.status_code == 403

    def test_provider_staff_get_their_providers_feed(self, session: Session, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        assert post_form(client, "/staff/calendars/", {"owner": f"provider:{world.provider_p}"}).status_code == 303
        assert session.exec(select(CalendarFeed).where(CalendarFeed.provider_id == world.provider_p)).one()
