from __future__ import annotations

from collections.abc import Callable

import pytest
from icalendar import Calendar
from litestar.testing import TestClient
from sqlmodel import Session, col, select

from registry.agencies.models import Agency
from registry.audit.models import AuditEvent
from registry.audit.services import Actor
from registry.deadlines.calendar import feed_for, feed_url
from registry.errors import ValidationFailed
from registry.providers.models import Provider
from registry.qa.models import QAResult
from registry.settings import Settings
from tests.deadlines.conftest import days


def _events(body: bytes) -> list[dict[str, str]]:
    calendar = Calendar.from_ical(body)
    return [
        {
            "uid": str(event["UID"]),
            "start": event.decoded("DTSTART").isoformat(),
            "summary": str(event["SUMMARY"]),
            "url": str(event["URL"]),
            "description": str(event["DESCRIPTION"]),
        }
        for event in calendar.walk("VEVENT")
    ]


class TestCalendarFeeds:
    def test_a_provider_feed_lists_its_deadlines_with_links(
        self,
        session: Session,
        client: TestClient,
        settings: Settings,
        make_provider: Callable[..., Provider],
        make_result: Callable[..., QAResult],
    ) -> None:
        provider = make_provider("Harbour College")
        make_result(provider, decision="positive with conditions or restrictions", conditions_due=days(40))
        make_result(make_provider(), valid_to=days(50))  # another provider's: not in this feed
        feed = feed_for(session, provider_id=provider.id)
        session.commit()  # the client reads through this connection
        url = feed_url(settings, feed)
        assert url.startswith("http://registry.test/calendars/") and url.endswith(".ics")

        response = client.get(url.removeprefix("http://registry.test"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        events = sorted(_events(response.content), key=lambda e: e["start"])
        assert [(e["start"], e["summary"]) for e in events] == [
            (days(40).isoformat(), "Conditions follow-up due: Harbour College"),
            (days(100).isoformat(), "QA result ends: Harbour College"),
        ]
        for event in events:
            assert event["url"] == f"http://registry.test/providers/{provider.id}"
            assert event["url"] in event["description"]
            assert event["uid"].startswith("deadline-")

    def test_an_agency_feed_holds_the_results_it_issued(
        self,
        session: Session,
        client: TestClient,
        agency: Agency,
        make_provider: Callable[..., Provider],
        make_result: Callable[..., QAResult],
    ) -> None:
        first, second = make_provider(), make_provider()
        make_result(first, valid_to=days(10))
        make_result(second, valid_to=days(20))
        token = feed_for(session, agency_id=agency.id).token
        session.commit()  # the client reads through this connection
        events = _events(client.get(f"/calendars/{token}.ics").content)
        assert sorted(e["start"] for e in events) == [days(10).isoformat(), days(20).isoformat()]

    def test_regenerating_revokes_the_old_address(
        self, session: Session, client: TestClient, make_provider: Callable[..., Provider]
    ) -> None:
        provider = make_provider()
        old = feed_for(session, provider_id=provider.id).token
        new = feed_for(session, provider_id=provider.id, regenerate=True).token
        assert feed_for(session, provider_id=provider.id).token == new != old
        session.commit()  # the client reads through this connection
        assert client.get(f"/calendars/{new}.ics").status_code == 200
        gone = client.get(f"/calendars/{old}.ics")
        assert gone.status_code == 404
        assert gone.headers["content-type"] == "application/problem+json"

    def test_regenerating_is_audited_with_the_feed_before_and_after(
        self, session: Session, make_provider: Callable[..., Provider]
    ) -> None:
        provider = make_provider()
        actor = Actor("calendar-test")
        feed_for(session, provider_id=provider.id, actor=actor)
        first = feed_for(session, provider_id=provider.id, regenerate=True, actor=actor).regenerated_at
        assert first is not None
        feed_for(session, provider_id=provider.id, regenerate=True, actor=actor)
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "calendar.regenerate", AuditEvent.actor_label == "calendar-test")
            .order_by(col(AuditEvent.id))
        ).all()
        assert len(events) == 2
        assert events[0].before == {"agency_id": None, "provider_id": provider.id, "regenerated_at": None}
        second_before = events[1].before
        assert second_before is not None and second_before["regenerated_at"] == first.isoformat()
        assert events[1].after is not None and events[1].after["regenerated_at"] != second_before["regenerated_at"]
        # The token is a credential: neither side of the record carries it.
        assert all("token" not in (e.before or {}) and "token" not in (e.after or {}) for e in events)

    def test_a_feed_belongs_to_one_agency_or_one_provider(self, session: Session) -> None:
        with pytest.raises(ValidationFailed):
            feed_for(session)
