"""Private iCalendar feeds of deadlines, one per agency and per provider, reached by a secret token."""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

from icalendar import Calendar, Event
from sqlalchemy import func, select
from sqlmodel import Session, col

from registry.agencies.models import Agency
from registry.audit.services import Actor, record_event
from registry.deadlines.models import CalendarFeed, ReviewDeadline
from registry.deadlines.services import deadlines_for
from registry.errors import NotFound, ValidationFailed
from registry.providers.models import Provider, ProviderName
from registry.settings import Settings
from registry.timeutil import utcnow

KIND_LABELS = {
    "result_expiry": "QA result ends",
    "conditions_due": "Conditions follow-up due",
    "self_assessment_due": "Self-assessment due",
    "eqar_registration_end": "EQAR registration ends",
}
# Deadlines older than this drop out of a feed; calendars keep what they already showed.
HISTORY = dt.timedelta(days=365)


def feed_for(
    session: Session,
    *,
    agency_id: int | None = None,
    provider_id: int | None = None,
    regenerate: bool = False,
    actor: Actor | None = None,
) -> CalendarFeed:
    """The feed of an agency or a provider, created on first use; regenerating revokes the old URL."""
    if (agency_id is None) == (provider_id is None):
        raise ValidationFailed({"feed": "a calendar feed belongs to exactly one agency or one provider"})
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise NotFound(f"There is no agency with id {agency_id}.")
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise NotFound(f"There is no provider with id {provider_id}.")
    owner = (
        col(CalendarFeed.agency_id) == agency_id
        if agency_id is not None
        else col(CalendarFeed.provider_id) == provider_id
    )
    feed = session.scalars(select(CalendarFeed).where(owner)).first()
    before = _feed_view(feed) if feed is not None else None
    if feed is None:
        feed = CalendarFeed(token=_token(), agency_id=agency_id, provider_id=provider_id)
    elif regenerate:
        feed.token = _token()
        feed.regenerated_at = utcnow()
    issued = feed.id is None
    session.add(feed)
    session.flush()
    if actor is not None and (issued or regenerate):
        # The token is a credential: the audit trail says who issued it, never what it is.
        record_event(
            session,
            actor,
            "calendar.regenerate" if regenerate and not issued else "calendar.issue",
            feed,
            before=None if issued else before,
            after=_feed_view(feed),
        )
    return feed


def _feed_view(feed: CalendarFeed) -> dict[str, object]:
    return {
        "agency_id": feed.agency_id,
        "provider_id": feed.provider_id,
        "regenerated_at": feed.regenerated_at.isoformat() if feed.regenerated_at else None,
    }


def existing_feeds(
    session: Session, agency_ids: set[int], provider_ids: set[int]
) -> list[tuple[str, str, CalendarFeed | None]]:
    """(owner key, label, feed or None) for each agency and provider, without creating any feed."""
    feeds = session.scalars(
        select(CalendarFeed).where(
            col(CalendarFeed.agency_id).in_(agency_ids) | col(CalendarFeed.provider_id).in_(provider_ids)
        )
    ).all()
    by_agency = {f.agency_id: f for f in feeds if f.agency_id is not None}
    by_provider = {f.provider_id: f for f in feeds if f.provider_id is not None}
    rows: list[tuple[str, str, CalendarFeed | None]] = []
    for agency_id in sorted(agency_ids):
        agency = session.get(Agency, agency_id)
        label = f"{agency.name} ({agency.acronym})" if agency else f"Agency {agency_id}"
        rows.append((f"agency:{agency_id}", label, by_agency.get(agency_id)))
    names = _provider_names(session, provider_ids)
    for provider_id in sorted(provider_ids):
        rows.append(
            (f"provider:{provider_id}", names.get(provider_id, f"Provider {provider_id}"), by_provider.get(provider_id))
        )
    return rows


def _token() -> str:
    return secrets.token_urlsafe(32)


def feed_url(settings: Settings, feed: CalendarFeed) -> str:
    return f"{settings.base_url}/calendars/{feed.token}.ics"


def render_feed(session: Session, token: str, settings: Settings, today: dt.date) -> bytes:
    feed = session.scalars(select(CalendarFeed).where(col(CalendarFeed.token) == token)).first()
    if feed is None:
        raise NotFound("There is no calendar feed at this address; it may have been regenerated.")
    found = deadlines_for(session, agency_id=feed.agency_id, provider_id=feed.provider_id, since=today - HISTORY)
    names = _provider_names(session, {d.provider_id for d in found if d.provider_id is not None})
    agencies = {
        a.id: a.name
        for a in session.scalars(
            select(Agency).where(
                Agency.id.in_(  # type: ignore[union-attr]
                    {d.agency_id for d in found if d.agency_id is not None}
                )
            )
        )
    }
    host = urlsplit(settings.base_url).hostname or "registry"
    calendar = Calendar()
    calendar.add("prodid", "-//Provider QA Registry//deadlines//EN")
    calendar.add("version", "2.0")
    owner = agencies.get(feed.agency_id) if feed.agency_id else names.get(feed.provider_id or 0)
    calendar.add("x-wr-calname", f"Review deadlines: {owner or 'registry'}")
    stamp = utcnow()
    for deadline in found:
        calendar.add_component(
            _event(
                deadline, names.get(deadline.provider_id or 0), agencies.get(deadline.agency_id), host, stamp, settings
            )
        )
    return calendar.to_ical()


def _event(
    deadline: ReviewDeadline,
    provider_name: str | None,
    agency_name: str | None,
    host: str,
    stamp: dt.datetime,
    settings: Settings,
) -> Event:
    link = f"{settings.base_url}/providers/{deadline.provider_id}" if deadline.provider_id else f"{settings.base_url}/"
    about = provider_name or agency_name or ""
    event = Event()
    # Stable per deadline, so a moved due day updates the calendar entry instead of adding one.
    event.add("uid", f"deadline-{deadline.id}@{host}")
    event.add("dtstamp", stamp)
    event.add("dtstart", deadline.due_on)
    event.add("dtend", deadline.due_on + dt.timedelta(days=1))
    event.add("summary", f"{KIND_LABELS.get(deadline.kind, deadline.kind)}: {about}".rstrip(": "))
    lines = [deadline.description]
    if agency_name and provider_name:
        lines.append(f"Agency: {agency_name}")
    lines.append(link)
    event.add("description", "\n".join(lines))
    event.add("url", link)
    event.add("categories", [deadline.kind])
    return event


def _provider_names(session: Session, provider_ids: set[int]) -> dict[int, str]:
    if not provider_ids:
        return {}
    rows = session.execute(
        select(col(ProviderName.provider_id), func.min(ProviderName.name))
        .where(col(ProviderName.provider_id).in_(provider_ids), col(ProviderName.kind) == "official")
        .group_by(col(ProviderName.provider_id))
    ).all()
    return {provider_id: name for provider_id, name in rows}
