"""QA agencies and their EQAR registration windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from registry.agencies.models import Agency, AgencyRegistration
from registry.audit.services import Actor, mark_in_error, record_event, snapshot
from registry.errors import FieldErrors, NotFound, ValidationFailed
from registry.reference.models import Country
from registry.vocabulary import ACTIVITY_TYPES


def get_agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"There is no agency with id {agency_id}.")
    return agency


def create_agency(
    session: Session,
    *,
    name: str,
    acronym: str,
    country: str,
    actor: Actor,
    website: str | None = None,
    deqar_agency_id: int | None = None,
    activities: list[str] | None = None,
    is_demo: bool = False,
) -> Agency:
    errors = FieldErrors()
    clean_name = errors.text("name", name)
    clean_acronym = errors.text("acronym", acronym, max_length=40)
    if session.get(Country, (country or "").upper()) is None:
        errors.add("country", f"{country!r} is not an ISO 3166 two-letter country code")
    for activity in activities or []:
        errors.choice("activities", activity, ACTIVITY_TYPES)
    if (
        deqar_agency_id is not None
        and session.exec(select(Agency).where(Agency.deqar_agency_id == deqar_agency_id)).first()
    ):
        errors.add("deqar_agency_id", f"DEQAR agency {deqar_agency_id} is already registered here")
    errors.raise_if_any()
    agency = Agency(
        name=clean_name or "",
        acronym=clean_acronym or "",
        country_iso2=country.upper(),
        website=website,
        deqar_agency_id=deqar_agency_id,
        activities=list(activities or []),
        is_demo=is_demo,
    )
    session.add(agency)
    session.flush()
    record_event(session, actor, "agency.create", agency)
    return agency


def _window(
    session: Session, agency_id: int, registered_from: Any, registered_to: Any, other_than: int | None = None
) -> tuple[dt.date, dt.date | None]:
    """A checked window: dates in order and no overlap with the agency's other standing windows."""
    errors = FieldErrors()
    start = errors.date("registered_from", registered_from, required=True)
    end = errors.date("registered_to", registered_to)
    if start and end and end < start:
        errors.add("registered_to", "the registration ends before it starts")
    if start and "registered_to" not in errors.errors:
        for other in registrations(session, agency_id):
            if other.id == other_than or other.withdrawn_at is not None:
                continue
            if other.registered_from <= (end or dt.date.max) and start <= (other.registered_to or dt.date.max):
                until = other.registered_to or "open-ended"
                errors.add(
                    "registered_from",
                    f"overlaps the window {other.registered_from} – {until}; edit that window instead",
                )
                break
    errors.raise_if_any()
    return start, end  # type: ignore[return-value]


def add_registration(
    session: Session,
    agency: Agency,
    *,
    registered_from: Any,
    registered_to: Any = None,
    decision: str = "registered",
    source: str = "entered",
    actor: Actor,
) -> AgencyRegistration:
    start, end = _window(session, agency.id or 0, registered_from, registered_to)
    registration = AgencyRegistration(
        agency_id=agency.id or 0,
        registered_from=start,
        registered_to=end,
        decision=decision,
        source=source,
    )
    session.add(registration)
    session.flush()
    record_event(session, actor, "agency.registration", registration)
    return registration


def get_registration(session: Session, agency_id: int, registration_id: int) -> AgencyRegistration:
    registration = session.get(AgencyRegistration, registration_id)
    if registration is None or registration.agency_id != agency_id:
        raise NotFound(f"This agency has no registration window {registration_id}.")
    return registration


def update_registration(
    session: Session, registration: AgencyRegistration, *, registered_from: Any, registered_to: Any, actor: Actor
) -> AgencyRegistration:
    if registration.withdrawn_at is not None:
        raise ValidationFailed({"registered_from": "this window is withdrawn; add a new one instead"})
    start, end = _window(session, registration.agency_id, registered_from, registered_to, registration.id)
    before = snapshot(registration)
    registration.registered_from = start
    registration.registered_to = end
    session.add(registration)
    record_event(session, actor, "agency.registration_update", registration, before=before)
    return registration


def withdraw_registration(
    session: Session, registration: AgencyRegistration, *, reason: str, actor: Actor
) -> AgencyRegistration:
    """A window entered in error no longer counts for any result; it stays in the history."""
    mark_in_error(
        session,
        registration,
        reason=reason,
        actor=actor,
        event="agency.registration_withdraw",
        mark="withdrawn",
        already="this window is already withdrawn",
    )
    return registration


def registrations(session: Session, agency_id: int) -> list[AgencyRegistration]:
    return list(
        session.exec(
            select(AgencyRegistration)
            .where(AgencyRegistration.agency_id == agency_id)
            .order_by(col(AgencyRegistration.registered_from))
        )
    )


def list_agencies(session: Session) -> list[Agency]:
    return list(session.exec(select(Agency).order_by(col(Agency.acronym))))


def find_agency(session: Session, identifier: str) -> Agency | None:
    """An agency by DEQAR id (e.g. 12 or DEQARAGENCY12), acronym, name or website."""
    text = identifier.strip()
    number = text.upper().removeprefix("DEQARAGENCY")
    if number.isdigit():
        found = session.exec(select(Agency).where(Agency.deqar_agency_id == int(number))).first()
        if found is not None:
            return found
    lowered = text.lower()
    return session.exec(
        select(Agency)
        .where(
            or_(
                func.lower(Agency.acronym) == lowered,
                func.lower(Agency.name) == lowered,
                func.lower(col(Agency.website)) == lowered.rstrip("/"),
            )
        )
        .order_by(col(Agency.id))
    ).first()
