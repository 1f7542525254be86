"""Deadline calendars and the events passing deadlines caused."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.openapi.spec import Example
from litestar.params import Parameter

from registry.api_docs import problem_responses
from registry.deadlines.calendar import render_feed
from registry.deadlines.services import status_events
from registry.errors import NotFound
from registry.providers.services import get_provider
from registry.timeutil import today
from registry.web import DatabaseDep, SettingsDep


class CalendarFeeds(Controller):
    path = "/calendars"
    tags = ["Deadlines"]

    @get(
        "/{feed:str}",
        sync_to_thread=True,
        summary="A private iCalendar feed of review deadlines",
        media_type="text/calendar; charset=utf-8",
        responses=problem_responses(400, 404),
    )
    def feed(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        feed: Annotated[str, Parameter(description="The feed's secret token followed by .ics")],
    ) -> Response[bytes]:
        if not feed.endswith(".ics"):
            raise NotFound("Calendar feeds end in .ics.")
        with db.read() as session:
            body = render_feed(session, feed.removesuffix(".ics"), settings, today())
        # The token is the credential: keep the feed out of shared caches.
        return Response(
            body, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "private, max-age=300"}
        )


class ProviderStatusEvents(Controller):
    path = "/api/v1/providers/{provider_id:int}/status-events"
    tags = ["Public registry"]

    @get(
        "/",
        sync_to_thread=True,
        summary="How passing deadlines changed a provider's verdict, newest first",
        responses=problem_responses(400, 404),
    )
    def list_events(
        self,
        db: DatabaseDep,
        provider_id: Annotated[int, Parameter(description="The provider's registry id", examples=[Example(value=1)])],
    ) -> dict[str, Any]:
        with db.read() as session:
            get_provider(session, provider_id)
            events = status_events(session, provider_id)
            return {
                "provider_id": provider_id,
                "events": [
                    {
                        "on": event.occurred_on.isoformat(),
                        "kind": event.kind,
                        "from_status": event.from_status,
                        "to_status": event.to_status,
                        "detail": event.detail,
                    }
                    for event in events
                ],
            }
