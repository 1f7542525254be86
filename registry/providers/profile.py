"""The public registry entry of a provider, shared by the JSON API and the public page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from registry.agencies.models import Agency
from registry.assessments.models import SelfAssessment
from registry.audit.models import AuditEvent
from registry.audit.story import tell_all
from registry.deadlines.models import ReviewDeadline
from registry.deadlines.services import status_events
from registry.errors import NotFound
from registry.providers.models import Provider, ProviderIdentifier, ProviderName, ProviderRelation, ProviderSuspension
from registry.providers.services import display_name, search_providers
from registry.qa import services as qa
from registry.qa.models import QAResultProvider
from registry.settings import Settings
from registry.trust.models import TrustTimeline
from registry.trust.verdict import Policy, Scope, evaluate
from registry.vocabulary import RESOLVING_ORIGINS


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _identifier(identifier: ProviderIdentifier) -> dict[str, Any]:
    return {
        "scheme": identifier.scheme,
        "value": identifier.value,
        "normalised": identifier.normalised,
        "valid_from": _iso(identifier.valid_from),
        "valid_to": _iso(identifier.valid_to),
        "origin": identifier.origin,
    }


def public_profile(session: Session, provider_id: int, settings: Settings, day: dt.date) -> dict[str, Any]:
    provider = session.get(Provider, provider_id)
    timeline = session.get(TrustTimeline, provider_id)
    if provider is None or not provider.confirmed or timeline is None:
        raise NotFound(f"There is no provider with id {provider_id} in the public registry.")
    names = session.exec(select(ProviderName).where(ProviderName.provider_id == provider_id)).all()
    identifiers = session.exec(
        select(ProviderIdentifier)
        .where(ProviderIdentifier.provider_id == provider_id, col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS))
        .order_by(col(ProviderIdentifier.scheme))
    ).all()
    relations = session.exec(
        select(ProviderRelation).where(
            (ProviderRelation.provider_id == provider_id) | (ProviderRelation.related_provider_id == provider_id),
            col(ProviderRelation.withdrawn_at).is_(None),
        )
    ).all()
    suspensions = session.exec(
        select(ProviderSuspension).where(
            ProviderSuspension.provider_id == provider_id, col(ProviderSuspension.cancelled_at).is_(None)
        )
    ).all()
    deadlines = session.exec(
        select(ReviewDeadline)
        .where(ReviewDeadline.provider_id == provider_id, ReviewDeadline.due_on >= day)
        .order_by(col(ReviewDeadline.due_on))
    ).all()
    results = []
    for result in qa.results_for_provider(session, provider_id):
        agency = session.get(Agency, result.agency_id)
        results.append(
            {
                "id": result.id,
                "agency": {
                    "id": result.agency_id,
                    "acronym": agency.acronym if agency else None,
                    "name": agency.name if agency else None,
                },
                "activity_type": result.activity_type,
                "status": result.status,
                "decision": result.decision,
                "valid_from": _iso(result.valid_from),
                "valid_to": _iso(result.valid_to),
                "revoked_from": _iso(result.revoked_from),
                "withdrawn": result.withdrawn_at is not None,
                "withdrawn_reason": result.withdrawn_reason,
                "conditions_due": _iso(result.conditions_due),
                "limits": {
                    "eqf_levels": result.limit_eqf_levels,
                    "fields": result.limit_fields,
                    "jurisdictions": result.limit_jurisdictions,
                },
                "programmes": [
                    {
                        "name": p.name,
                        "identifier": p.identifier,
                        "eqf_level": p.eqf_level,
                        "ects": p.ects,
                        "field": p.isced_field,
                        "full_degree": p.full_degree,
                    }
                    for p in qa.programmes(session, result.id or 0)
                ],
                "report_links": result.report_links,
                "report_files": [
                    {"id": f.id, "filename": f.filename, "url": f"{settings.base_url}/reports/{f.id}"}
                    for f in qa.report_files(session, result.id or 0)
                ],
            }
        )
    policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
    outcome = evaluate(timeline.document, day, Scope(), policy)
    return {
        "id": provider_id,
        "name": timeline.document["provider"]["name"],
        "names": [
            {
                "kind": n.kind,
                "name": n.name,
                "lang": n.lang,
                "valid_from": _iso(n.valid_from),
                "valid_to": _iso(n.valid_to),
            }
            for n in names
        ],
        "country": provider.country_iso2,
        "type": provider.provider_type,
        "website": provider.website,
        "founded_on": _iso(provider.founded_on),
        "closed_on": _iso(provider.closed_on),
        "is_demo": provider.is_demo,
        "identifiers": [_identifier(i) for i in identifiers],
        "relations": [
            {
                "provider_id": r.provider_id,
                "provider_name": display_name(session, r.provider_id),
                "kind": r.kind,
                "related_provider_id": r.related_provider_id,
                "related_name": display_name(session, r.related_provider_id),
                "valid_from": _iso(r.valid_from),
            }
            for r in relations
        ],
        "suspensions": [
            {"from": _iso(s.suspended_from), "to": _iso(s.suspended_to), "reason": s.reason} for s in suspensions
        ],
        "results": results,
        "deadlines": [{"kind": d.kind, "due_on": _iso(d.due_on), "description": d.description} for d in deadlines],
        "status_events": [
            {
                "on": _iso(e.occurred_on),
                "kind": e.kind,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "detail": e.detail,
            }
            for e in status_events(session, provider_id, limit=50)
        ],
        "verdict": {
            "status": outcome.status,
            "trusted": outcome.trusted,
            "reasons": outcome.reasons,
            "next_review_due": outcome.next_review_due,
            "internal_qa": outcome.internal_qa,
            "basis": [b["result_id"] for b in outcome.basis],
        },
    }


def page_number(text: str | None) -> int:
    """A page number from a query string; anything that is not a positive number is page 1."""
    return int(text) if text and text.isdigit() and 0 < int(text) <= 1_000_000 else 1


def search_page(
    session: Session,
    *,
    q: str | None,
    country: str | None,
    provider_type: str | None,
    status: str | None,
    page: int,
    per_page: int,
) -> dict[str, Any]:
    ids = None
    if status:
        ids = select(TrustTimeline.provider_id).where(TrustTimeline.current_status == status)

    def fetch(number: int) -> tuple[list[Provider], int]:
        return search_providers(
            session,
            q=q,
            country=country,
            provider_type=provider_type,
            provider_ids=ids,
            offset=(number - 1) * per_page,
            limit=per_page,
        )

    providers, total = fetch(page)
    last = max(1, -(-total // per_page))
    if page > last:
        # A page past the end (an old link, a typed number) shows the last page instead of "Page 99 of 2".
        page = last
        providers, total = fetch(page)
    timelines = {
        t.provider_id: t
        for t in session.exec(
            select(TrustTimeline).where(col(TrustTimeline.provider_id).in_([p.id for p in providers]))
        )
    }
    items = []
    for provider in providers:
        timeline = timelines.get(provider.id or 0)
        items.append(
            {
                "id": provider.id,
                "name": timeline.document["provider"]["name"] if timeline else None,
                "country": provider.country_iso2,
                "type": provider.provider_type,
                "website": provider.website,
                "status": timeline.current_status if timeline else None,
            }
        )
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def staff_profile(session: Session, provider_id: int, settings: Settings, day: dt.date) -> dict[str, Any]:
    """The public entry plus what staff need: every identifier (claims too), self-assessments, history."""
    profile = public_profile(session, provider_id, settings, day)
    provider = session.get(Provider, provider_id)
    identifiers = session.exec(
        select(ProviderIdentifier)
        .where(ProviderIdentifier.provider_id == provider_id)
        .order_by(col(ProviderIdentifier.scheme))
    ).all()
    profile["identifiers"] = [
        {**_identifier(i), "id": i.id, "resolves": i.origin in RESOLVING_ORIGINS} for i in identifiers
    ]
    profile["version"] = provider.version if provider else None
    profile["suspension_rows"] = session.exec(
        select(ProviderSuspension)
        .where(ProviderSuspension.provider_id == provider_id)
        .order_by(col(ProviderSuspension.suspended_from))
    ).all()
    # Staff also see relations withdrawn as entered in error, struck through with their reason.
    profile["relation_rows"] = [
        {
            "relation": r,
            "provider_name": display_name(session, r.provider_id),
            "related_name": display_name(session, r.related_provider_id),
        }
        for r in session.exec(
            select(ProviderRelation)
            .where(
                or_(
                    col(ProviderRelation.provider_id) == provider_id,
                    col(ProviderRelation.related_provider_id) == provider_id,
                )
            )
            .order_by(col(ProviderRelation.id))
        )
    ]
    profile["self_assessments"] = session.exec(
        select(SelfAssessment)
        .where(SelfAssessment.provider_id == provider_id)
        .order_by(col(SelfAssessment.version_number).desc())
    ).all()
    profile["history"] = tell_all(session, provider_history(session, provider_id))
    return profile


def provider_history(session: Session, provider_id: int, limit: int = 50) -> list[AuditEvent]:
    """Audit events about the provider and the records hanging off it, newest first."""
    query = (
        select(AuditEvent)
        .where(provider_events(provider_id))
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def provider_events(provider_id: int) -> Any:
    """The condition on audit events that selects those about a provider and its records."""
    result_ids = select(QAResultProvider.result_id).where(QAResultProvider.provider_id == provider_id)
    identifier_ids = select(ProviderIdentifier.id).where(ProviderIdentifier.provider_id == provider_id)
    suspension_ids = select(ProviderSuspension.id).where(ProviderSuspension.provider_id == provider_id)
    relation_ids = select(ProviderRelation.id).where(
        or_(col(ProviderRelation.provider_id) == provider_id, col(ProviderRelation.related_provider_id) == provider_id)
    )
    assessment_ids = select(SelfAssessment.id).where(SelfAssessment.provider_id == provider_id)
    return or_(
        and_(col(AuditEvent.entity_type) == "provider", col(AuditEvent.entity_id) == provider_id),
        and_(col(AuditEvent.entity_type) == "qa_result", col(AuditEvent.entity_id).in_(result_ids)),
        and_(col(AuditEvent.entity_type) == "provider_identifier", col(AuditEvent.entity_id).in_(identifier_ids)),
        and_(col(AuditEvent.entity_type) == "provider_suspension", col(AuditEvent.entity_id).in_(suspension_ids)),
        and_(col(AuditEvent.entity_type) == "provider_relation", col(AuditEvent.entity_id).in_(relation_ids)),
        and_(col(AuditEvent.entity_type) == "self_assessment", col(AuditEvent.entity_id).in_(assessment_ids)),
    )
