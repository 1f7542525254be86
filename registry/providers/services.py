"""Providers: master data, identifiers, names, relations, closure and suspension."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from registry.audit.services import Actor, mark_in_error, record_event, snapshot
from registry.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from registry.folding import like_pattern
from registry.providers.identifiers import InvalidIdentifier, normalise
from registry.providers.models import (
    Provider,
    ProviderIdentifier,
    ProviderName,
    ProviderRelation,
    ProviderSuspension,
)
from registry.reference.models import Country
from registry.timeutil import today, utcnow
from registry.vocabulary import (
    IDENTIFIER_ORIGINS,
    MERGER_RELATIONS,
    NAME_KINDS,
    PROVIDER_TYPES,
    RELATION_KINDS,
    RESOLVING_ORIGINS,
)


@dataclass
class ProviderInput:
    name: str
    country: str
    provider_type: str
    english_name: str | None = None
    acronym: str | None = None
    name_lang: str | None = None
    website: str | None = None
    founded_on: Any = None
    closed_on: Any = None
    identifiers: list[dict[str, Any]] = field(default_factory=list)


def get_provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"There is no provider with id {provider_id}.")
    return provider


def create_provider(
    session: Session,
    data: ProviderInput,
    actor: Actor,
    *,
    confirmed: bool = True,
    is_demo: bool = False,
    created_by_agency_id: int | None = None,
    request_contact: str | None = None,
) -> Provider:
    errors = FieldErrors()
    name = errors.text("name", data.name)
    country = (data.country or "").strip().upper()
    if not country:
        errors.add("country", "choose the provider's country (ISO 3166 two-letter code)")
    elif session.get(Country, country) is None:
        errors.add("country", f"{data.country!r} is not an ISO 3166 two-letter country code")
    provider_type = errors.choice("provider_type", data.provider_type, PROVIDER_TYPES)
    founded_on = errors.date("founded_on", data.founded_on)
    closed_on = errors.date("closed_on", data.closed_on)
    if founded_on and closed_on and closed_on < founded_on:
        errors.add("closed_on", "the closure date is before the founding date")
    website = _website(errors, data.website)
    errors.raise_if_any()
    provider = Provider(
        country_iso2=country,
        provider_type=provider_type or "",
        website=website,
        founded_on=founded_on,
        closed_on=closed_on,
        confirmed=confirmed,
        is_demo=is_demo,
        created_by_agency_id=created_by_agency_id,
        request_contact=request_contact,
    )
    session.add(provider)
    session.flush()
    _add_name(session, provider, "official", name or "", data.name_lang)
    if data.english_name:
        _add_name(session, provider, "english", data.english_name, "en")
    if data.acronym:
        _add_name(session, provider, "acronym", data.acronym, None)
    record_event(session, actor, "provider.create", provider)
    for index, identifier in enumerate(data.identifiers):
        try:
            add_identifier(session, provider, actor=actor, **identifier)
        except ValidationFailed as error:
            raise ValidationFailed(
                {f"identifiers[{index}].{key}": value for key, value in error.errors.items()}
            ) from None
    return provider


def _website(errors: FieldErrors, website: str | None) -> str | None:
    if not website:
        return None
    try:
        return normalise("url", website)
    except InvalidIdentifier as error:
        # The check is the issuer-URL one; the person typed a website and reads about a website.
        errors.add(
            "website", str(error).replace("an issuer URL", "a website address").replace("the URL", "the address")
        )
        return None


def _add_name(session: Session, provider: Provider, kind: str, name: str, lang: str | None) -> ProviderName:
    if kind not in NAME_KINDS:
        raise ValidationFailed({"kind": f"a name is one of: {', '.join(NAME_KINDS)}"})
    record = ProviderName(provider_id=provider.id or 0, kind=kind, name=name.strip(), lang=lang)
    session.add(record)
    return record


def update_provider(
    session: Session, provider: Provider, changes: dict[str, Any], actor: Actor, expected_version: int
) -> Provider:
    """Edit master data; a stale version is a conflict, never a silent overwrite."""
    if provider.version != expected_version:
        raise Conflict(
            f"This provider was changed by someone else (version {provider.version}, you edited "
            f"version {expected_version}). Reload it and apply your change again."
        )
    before = snapshot(provider)
    errors = FieldErrors()
    if "country" in changes:
        country = str(changes["country"] or "").upper()
        if session.get(Country, country) is None:
            errors.add("country", f"{changes['country']!r} is not an ISO 3166 two-letter country code")
        provider.country_iso2 = country
    if "provider_type" in changes:
        provider.provider_type = errors.choice("provider_type", changes["provider_type"], PROVIDER_TYPES) or ""
    if "website" in changes:
        provider.website = _website(errors, changes["website"])
    if "founded_on" in changes:
        provider.founded_on = errors.date("founded_on", changes["founded_on"])
    if "closed_on" in changes:
        provider.closed_on = errors.date("closed_on", changes["closed_on"])
    if provider.founded_on and provider.closed_on and provider.closed_on < provider.founded_on:
        errors.add("closed_on", "the closure date is before the founding date")
    if "name" in changes:
        name = errors.text("name", changes["name"])
        if name:
            official = current_name(session, provider.id or 0, "official")
            if official is not None:
                official.name = name
                session.add(official)
    errors.raise_if_any()
    provider.version += 1
    provider.updated_at = utcnow()
    session.add(provider)
    record_event(session, actor, "provider.update", provider, before=before)
    return provider


def add_identifier(
    session: Session,
    provider: Provider,
    *,
    scheme: str,
    value: str,
    actor: Actor,
    valid_from: Any = None,
    valid_to: Any = None,
    origin: str = "agency",
    agency_id: int | None = None,
) -> ProviderIdentifier:
    errors = FieldErrors()
    start = errors.date("valid_from", valid_from)
    end = errors.date("valid_to", valid_to)
    if start and end and end < start:
        errors.add("valid_to", "the end of validity is before its start")
    errors.choice("origin", origin, IDENTIFIER_ORIGINS)
    normalised = ""
    try:
        normalised = normalise(scheme, value)
    except InvalidIdentifier as error:
        errors.add("scheme" if "scheme" in str(error) and "unknown" in str(error) else "value", str(error))
    errors.raise_if_any()
    holder = established_holder(session, scheme, normalised, start, end)
    if holder is not None:
        raise ValidationFailed(
            {
                "value": f"{scheme} {normalised} already belongs to provider {holder.provider_id} "
                "for an overlapping period"
            }
        )
    identifier = ProviderIdentifier(
        provider_id=provider.id or 0,
        scheme=scheme,
        value=value.strip(),
        normalised=normalised,
        valid_from=start,
        valid_to=end,
        origin=origin,
        agency_id=agency_id,
    )
    session.add(identifier)
    session.flush()
    record_event(session, actor, "identifier.add", identifier)
    return identifier


def established_holder(
    session: Session,
    scheme: str,
    normalised: str,
    start: dt.date | None,
    end: dt.date | None,
    other_than: int | None = None,
) -> ProviderIdentifier | None:
    """An established identifier with this value for an overlapping period.

    Unproven claims never block: anyone may claim an identifier, only its real holder can prove it.
    """
    query = select(ProviderIdentifier).where(
        ProviderIdentifier.scheme == scheme,
        ProviderIdentifier.normalised == normalised,
        col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS),
    )
    if other_than is not None:
        query = query.where(col(ProviderIdentifier.id) != other_than)
    if end is not None:
        query = query.where(
            or_(col(ProviderIdentifier.valid_from).is_(None), col(ProviderIdentifier.valid_from) <= end)
        )
    if start is not None:
        query = query.where(or_(col(ProviderIdentifier.valid_to).is_(None), col(ProviderIdentifier.valid_to) >= start))
    return session.exec(query.limit(1)).first()


def suspend(
    session: Session, provider: Provider, *, suspended_from: Any, suspended_to: Any, reason: str, actor: Actor
) -> ProviderSuspension:
    errors = FieldErrors()
    start = errors.date("suspended_from", suspended_from, required=True)
    end = errors.date("suspended_to", suspended_to)
    text = errors.text("reason", reason)
    if start and end and end <= start:
        errors.add("suspended_to", "the suspension must end after it starts")
    errors.raise_if_any()
    suspension = ProviderSuspension(
        provider_id=provider.id or 0,
        suspended_from=start,  # type: ignore[arg-type]
        suspended_to=end,
        reason=text or "",
        by_user_id=actor.user_id,
    )
    session.add(suspension)
    session.flush()
    record_event(session, actor, "provider.suspend", suspension)
    return suspension


def end_suspension(
    session: Session, suspension: ProviderSuspension, *, ends_on: Any, actor: Actor
) -> ProviderSuspension:
    """End a suspension from a day on; ending it today makes today's verdict no longer suspended."""
    errors = FieldErrors()
    end = errors.date("suspended_to", ends_on, required=True)
    if suspension.cancelled_at is not None:
        errors.add("suspended_to", "this suspension was cancelled; there is nothing to end")
    elif end and (end < suspension.suspended_from or (end == suspension.suspended_from and end != today())):
        # Ending today is always allowed, even the day it started: today's verdict then no longer says suspended.
        errors.add("suspended_to", f"the suspension must end after it starts ({suspension.suspended_from}) or today")
    errors.raise_if_any()
    before = snapshot(suspension)
    suspension.suspended_to = end
    session.add(suspension)
    record_event(session, actor, "provider.unsuspend", suspension, before=before)
    return suspension


def cancel_suspension(
    session: Session, suspension: ProviderSuspension, *, reason: str, actor: Actor
) -> ProviderSuspension:
    """A suspension entered in error: excluded from every verdict, for every date; kept for audit."""
    mark_in_error(
        session,
        suspension,
        reason=reason,
        actor=actor,
        event="provider.suspension_cancel",
        mark="cancelled",
        already="this suspension is already cancelled",
    )
    return suspension


def add_relation(
    session: Session,
    provider: Provider,
    *,
    kind: str,
    related_provider_id: int,
    valid_from: Any = None,
    actor: Actor,
) -> ProviderRelation:
    """Relate two providers; a merger ("succeeded by", "absorbed by") closes this provider on its date."""
    errors = FieldErrors()
    errors.choice("kind", kind, RELATION_KINDS)
    start = errors.date("valid_from", valid_from, required=kind in MERGER_RELATIONS)
    if related_provider_id == provider.id:
        errors.add("related_provider_id", "a provider cannot be related to itself")
    elif session.get(Provider, related_provider_id) is None:
        errors.add("related_provider_id", "choose an existing provider")
    errors.raise_if_any()
    if kind == "parent" and _is_ancestor(session, provider.id or 0, related_provider_id):
        raise ValidationFailed({"related_provider_id": "this would make the provider its own parent"})
    if kind in MERGER_RELATIONS:
        _check_merger(session, provider, related_provider_id, start)
    relation = ProviderRelation(
        provider_id=provider.id or 0,
        kind=kind,
        related_provider_id=related_provider_id,
        valid_from=start,
        replaced_closed_on=provider.closed_on,
    )
    session.add(relation)
    if kind in MERGER_RELATIONS and start and (provider.closed_on is None or provider.closed_on > start):
        before = snapshot(provider)
        provider.closed_on = start
        provider.version += 1
        session.add(provider)
        record_event(session, actor, "provider.close", provider, before=before)
    session.flush()
    record_event(session, actor, "relation.add", relation)
    return relation


def withdraw_relation(session: Session, relation: ProviderRelation, *, reason: str, actor: Actor) -> ProviderRelation:
    """A relation recorded in error: ignored by every verdict from now on, kept for the history.

    Withdrawing a merger reopens the provider it closed (back to the closing date it had before), and
    the successor stops counting the results it inherited through it.
    """
    mark_in_error(
        session,
        relation,
        reason=reason,
        actor=actor,
        event="relation.withdraw",
        mark="withdrawn",
        already="this relation is already withdrawn",
    )
    provider = session.get(Provider, relation.provider_id)
    if (
        relation.kind in MERGER_RELATIONS
        and provider is not None
        and relation.valid_from is not None
        and provider.closed_on == relation.valid_from
        and relation.replaced_closed_on != relation.valid_from
    ):
        before = snapshot(provider)
        provider.closed_on = relation.replaced_closed_on
        provider.version += 1
        session.add(provider)
        record_event(session, actor, "provider.reopen", provider, before=before)
    return relation


def merger_of(session: Session, provider_id: int) -> ProviderRelation | None:
    """The merger that ended this provider, if one is recorded (and not withdrawn)."""
    return session.exec(
        select(ProviderRelation).where(
            ProviderRelation.provider_id == provider_id,
            col(ProviderRelation.kind).in_(MERGER_RELATIONS),
            col(ProviderRelation.withdrawn_at).is_(None),
        )
    ).first()


def _check_merger(session: Session, provider: Provider, successor_id: int, merged_on: dt.date | None) -> None:
    """A provider ends in at most one merger, never into its own predecessor, into a successor open then."""
    recorded = merger_of(session, provider.id or 0)
    if recorded is not None:
        raise ValidationFailed(
            {
                "related_provider_id": f"{display_name(session, provider.id or 0)} is already recorded as "
                f"{recorded.kind} {display_name(session, recorded.related_provider_id)} on {recorded.valid_from}"
            }
        )
    current: int | None = successor_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        if current == provider.id:
            raise ValidationFailed(
                {"related_provider_id": "the successor already descends from this provider through a merger"}
            )
        seen.add(current)
        onward = merger_of(session, current)
        current = onward.related_provider_id if onward else None
    successor = session.get(Provider, successor_id)
    if successor is not None and merged_on is not None and successor.closed_on and successor.closed_on <= merged_on:
        raise ValidationFailed(
            {
                "related_provider_id": f"{display_name(session, successor_id)} closed on {successor.closed_on}, "
                "before the merger"
            }
        )
    if provider.founded_on and merged_on and merged_on < provider.founded_on:
        raise ValidationFailed({"valid_from": "the merger date is before the provider was founded"})


def _is_ancestor(session: Session, provider_id: int, candidate_parent_id: int) -> bool:
    """Whether provider_id is already above candidate_parent_id in the parent chain."""
    seen: set[int] = set()
    current = candidate_parent_id
    while current not in seen:
        seen.add(current)
        if current == provider_id:
            return True
        parent = session.exec(
            select(ProviderRelation.related_provider_id).where(
                ProviderRelation.provider_id == current,
                ProviderRelation.kind == "parent",
                col(ProviderRelation.withdrawn_at).is_(None),
            )
        ).first()
        if parent is None:
            return False
        current = parent
    return False


def current_name(session: Session, provider_id: int, kind: str = "official") -> ProviderName | None:
    return session.exec(
        select(ProviderName)
        .where(ProviderName.provider_id == provider_id, ProviderName.kind == kind)
        .order_by(col(ProviderName.valid_from).desc())
    ).first()


def display_name(session: Session, provider_id: int) -> str:
    english = current_name(session, provider_id, "english")
    official = current_name(session, provider_id, "official")
    chosen = english or official
    return chosen.name if chosen is not None else f"Provider {provider_id}"


def search_providers(
    session: Session,
    *,
    q: str | None = None,
    country: str | None = None,
    provider_type: str | None = None,
    provider_ids: Any = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Provider], int]:
    """Providers matching a name or identifier fragment and filters, with the total count."""
    query = select(Provider).where(col(Provider.confirmed).is_(True))
    if q:
        term = q.strip()
        name_match = select(ProviderName.provider_id).where(
            col(ProviderName.folded).like(like_pattern(term), escape="\\")
        )
        id_match = select(ProviderIdentifier.provider_id).where(
            col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS),
            or_(
                col(ProviderIdentifier.normalised) == term,
                col(ProviderIdentifier.normalised) == term.lower(),
                col(ProviderIdentifier.normalised) == term.upper(),
            ),
        )
        query = query.where(or_(col(Provider.id).in_(name_match), col(Provider.id).in_(id_match)))
    if country:
        query = query.where(Provider.country_iso2 == country.upper())
    if provider_type:
        query = query.where(Provider.provider_type == provider_type)
    if provider_ids is not None:
        # A list of ids or a subquery selecting them.
        query = query.where(col(Provider.id).in_(provider_ids))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Provider.id)).offset(offset).limit(limit))
    return list(rows), int(total)
