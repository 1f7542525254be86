"""The per-provider trust timeline: the facts a verdict needs, kept current on every write.

The unit of work (registry/derived.py) calls refresh() before every commit for the providers the
transaction touched, so a verdict never reads a timeline older than the data it describes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from registry.agencies.models import Agency, AgencyRegistration
from registry.assessments.models import SelfAssessment
from registry.providers.models import Provider, ProviderName, ProviderRelation, ProviderSuspension
from registry.qa.models import QAReportFile, QAResult, QAResultProgramme, QAResultProvider
from registry.settings import get_settings
from registry.timeutil import today, utcnow
from registry.trust.models import TrustTimeline
from registry.trust.verdict import Policy, Scope, evaluate
from registry.vocabulary import MERGER_RELATIONS, POSITIVE_DECISIONS


def refresh(session: Session, provider_ids: Iterable[int]) -> set[int]:
    """Rebuild the timelines of these providers and of every provider that inherits from them.

    Returns every provider refreshed (the inheritors included).
    """
    from registry.trust import timeline_bulk

    ids = set(provider_ids)
    ids |= _successors(session, ids)
    session.flush()
    timeline_bulk.refresh(session, ids)
    return ids


def refresh_one_by_one(session: Session, provider_ids: Iterable[int]) -> set[int]:
    """refresh() with build_document per provider: the reference the set-based refresh is tested against."""
    ids = set(provider_ids)
    ids |= _successors(session, ids)
    session.flush()
    for provider_id in sorted(ids):
        provider = session.get(Provider, provider_id)
        existing = session.get(TrustTimeline, provider_id)
        if provider is None or not provider.confirmed:
            if existing is not None:
                session.delete(existing)
            continue
        document = build_document(session, provider)
        status, until = status_today(document)
        if existing is None:
            existing = TrustTimeline(provider_id=provider_id, document=document, current_status=status)
        existing.document = document
        existing.current_status = status
        existing.status_until = until
        existing.updated_at = utcnow()
        session.add(existing)
    session.flush()
    return ids


def status_today(document: dict[str, Any], day: dt.date | None = None) -> tuple[str, dt.date | None]:
    """The unscoped verdict on a day and the first later day on which it may change."""
    settings = get_settings()
    day = day or today()
    policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
    status = evaluate(document, day, Scope(), policy).status
    upcoming = [change for change in change_days(document) if change > day]
    return status, min(upcoming, default=None)


def change_days(document: dict[str, Any]) -> set[dt.date]:
    """Every day on which some verdict about this provider can change."""
    texts: list[str | None] = [document["closed_on"]]
    for suspension in document["suspensions"]:
        texts += [suspension["from"], suspension["to"]]
    for result in document["results"]:
        texts += [result["valid_from"], result["revoked_from"], result["counts_from"], result["conditions_due"]]
        # The day after the last one, when the calendar has one: a result valid to 9999-12-31 never lapses.
        if result["valid_to"] < dt.date.max.isoformat():
            texts.append((dt.date.fromisoformat(result["valid_to"]) + dt.timedelta(days=1)).isoformat())
    for accepted in document["internal_qa"]["accepted"]:
        texts += [accepted["accepted_on"], accepted["next_due"]]
    return {dt.date.fromisoformat(text) for text in texts if text}


def refresh_stale(session: Session, day: dt.date | None = None) -> int:
    """Re-evaluate the timelines whose current status may have changed by this day."""
    day = day or today()
    stale = session.exec(
        select(TrustTimeline).where(
            col(TrustTimeline.status_until).is_not(None), col(TrustTimeline.status_until) <= day
        )
    ).all()
    for timeline in stale:
        timeline.current_status, timeline.status_until = status_today(timeline.document, day)
        session.add(timeline)
    session.flush()
    return len(stale)


def registered_on(session: Session, agency_id: int, day: dt.date) -> bool:
    """Whether the agency was on EQAR on that day (both ends of a window included)."""
    return (
        session.exec(
            select(AgencyRegistration.id).where(
                AgencyRegistration.agency_id == agency_id,
                col(AgencyRegistration.withdrawn_at).is_(None),
                col(AgencyRegistration.registered_from) <= day,
                or_(col(AgencyRegistration.registered_to).is_(None), col(AgencyRegistration.registered_to) >= day),
            )
        ).first()
        is not None
    )


def _successors(session: Session, provider_ids: set[int]) -> set[int]:
    found: set[int] = set()
    frontier = set(provider_ids)
    while frontier:
        ordered = sorted(frontier)
        rows: set[int] = set()
        for start in range(0, len(ordered), 5000):  # a bulk import may touch more than one IN list names
            rows.update(
                session.exec(
                    select(ProviderRelation.related_provider_id).where(
                        col(ProviderRelation.provider_id).in_(ordered[start : start + 5000]),
                        col(ProviderRelation.kind).in_(MERGER_RELATIONS),
                        col(ProviderRelation.withdrawn_at).is_(None),
                    )
                )
            )
        frontier = rows - found - provider_ids
        found |= frontier
    return found


def inherited_results(
    session: Session, provider_id: int, seen: frozenset[int] = frozenset()
) -> list[tuple[QAResult, dt.date, int]]:
    """The covering results a provider counts from its predecessors: (result, counts from, holder).

    A predecessor passes on what it counted on the merger date: its own positive results and,
    transitively, those it had inherited itself, each still valid on that date. Negative results
    are never passed on.
    """
    seen = seen | {provider_id}
    mergers = session.exec(
        select(ProviderRelation)
        .where(
            ProviderRelation.related_provider_id == provider_id,
            col(ProviderRelation.kind).in_(MERGER_RELATIONS),
            col(ProviderRelation.withdrawn_at).is_(None),
        )
        .order_by(col(ProviderRelation.id))
    )
    found: dict[int, tuple[QAResult, dt.date, int]] = {}
    for merger in mergers:
        merged_on = merger.valid_from
        if merged_on is None or merger.provider_id in seen:
            continue
        counted: list[tuple[QAResult, dt.date | None, int]] = [
            (result, None, merger.provider_id) for result in _own_results(session, merger.provider_id)
        ]
        counted += inherited_results(session, merger.provider_id, seen)
        for result, counts_from, holder in counted:
            if result.decision not in POSITIVE_DECISIONS or (counts_from is not None and counts_from > merged_on):
                continue
            if not _valid_on(result, merged_on):
                continue
            earlier = found.get(result.id or 0)
            if earlier is None or merged_on < earlier[1]:
                found[result.id or 0] = (result, merged_on, holder)
    return list(found.values())


def _valid_on(result: QAResult, day: dt.date) -> bool:
    return result.valid_from <= day <= result.valid_to and (result.revoked_from is None or day < result.revoked_from)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def build_document(session: Session, provider: Provider) -> dict[str, Any]:
    provider_id = provider.id or 0
    names = _names(session, provider_id)
    suspensions = session.exec(
        select(ProviderSuspension)
        .where(ProviderSuspension.provider_id == provider_id, col(ProviderSuspension.cancelled_at).is_(None))
        .order_by(col(ProviderSuspension.suspended_from), col(ProviderSuspension.id))
    )
    results = [
        _result_entry(session, result, counts_from=None, inherited_from=None)
        for result in _own_results(session, provider_id)
    ]
    own_ids = {entry["result_id"] for entry in results}
    for result, counts_from, holder in inherited_results(session, provider_id):
        if result.id not in own_ids:
            results.append(_result_entry(session, result, counts_from=counts_from, inherited_from=holder))
    merged_into = session.exec(
        select(ProviderRelation)
        .where(
            ProviderRelation.provider_id == provider_id,
            col(ProviderRelation.kind).in_(MERGER_RELATIONS),
            col(ProviderRelation.withdrawn_at).is_(None),
        )
        .order_by(col(ProviderRelation.id))
    ).first()
    assessments = session.exec(
        select(SelfAssessment)
        .where(SelfAssessment.provider_id == provider_id)
        .order_by(col(SelfAssessment.version_number))
    )
    successor = _name(session, merged_into.related_provider_id) if merged_into else None
    return assemble_document(
        provider, names, merged_into, suspensions, results, internal_qa_entry(assessments), successor_name=successor
    )


def assemble_document(
    provider: Provider,
    names: dict[str, str],
    merged_into: ProviderRelation | None,
    suspensions: Iterable[ProviderSuspension],
    results: list[dict[str, Any]],
    internal_qa: dict[str, Any],
    successor_name: str | None = None,
) -> dict[str, Any]:
    """The timeline document from records already read; bulk loaders call this too."""
    provider_id = provider.id or 0
    results.sort(key=lambda entry: (entry["valid_from"], entry["result_id"]))
    return {
        "provider": {
            "id": provider_id,
            "name": _display_name(provider_id, names),
            "country": provider.country_iso2,
            "type": provider.provider_type,
            "url": provider.website,
        },
        "closed_on": _iso(provider.closed_on),
        "merged_into": (
            {
                "id": merged_into.related_provider_id,
                "name": successor_name or f"Provider {merged_into.related_provider_id}",
                "kind": merged_into.kind,
                "on": _iso(merged_into.valid_from),
            }
            if merged_into
            else None
        ),
        "suspensions": [
            {"from": _iso(s.suspended_from), "to": _iso(s.suspended_to), "reason": s.reason} for s in suspensions
        ],
        "results": results,
        "internal_qa": internal_qa,
    }


def _names(session: Session, provider_id: int) -> dict[str, str]:
    names = select(ProviderName).where(ProviderName.provider_id == provider_id).order_by(col(ProviderName.id))
    return {n.kind: n.name for n in session.exec(names)}


def _display_name(provider_id: int, names: dict[str, str]) -> str:
    return names.get("english") or names.get("official") or f"Provider {provider_id}"


def _name(session: Session, provider_id: int) -> str:
    return _display_name(provider_id, _names(session, provider_id))


def _own_results(session: Session, provider_id: int) -> list[QAResult]:
    return list(
        session.exec(
            select(QAResult)
            .join(QAResultProvider, col(QAResultProvider.result_id) == QAResult.id)
            .where(QAResultProvider.provider_id == provider_id, col(QAResult.withdrawn_at).is_(None))
            .order_by(col(QAResult.id))
        )
    )


def _result_entry(session: Session, result: QAResult, counts_from: Any, inherited_from: int | None) -> dict[str, Any]:
    agency = session.get(Agency, result.agency_id)
    registered = registered_on(session, result.agency_id, result.valid_from)
    programmes = session.exec(
        select(QAResultProgramme).where(QAResultProgramme.result_id == result.id).order_by(col(QAResultProgramme.id))
    )
    entry = result_entry(result, agency, registered, programmes, counts_from, inherited_from)
    if entry["report_url"] is None:
        # Without a link, the verdict points verifiers at the report file kept here.
        first_file = session.exec(
            select(QAReportFile.id)
            .where(QAReportFile.result_id == result.id, col(QAReportFile.withdrawn_at).is_(None))
            .order_by(col(QAReportFile.id))
        ).first()
        if first_file is not None:
            entry["report_url"] = f"{get_settings().base_url}/reports/{first_file}"
    return entry


def result_entry(
    result: QAResult,
    agency: Agency | None,
    registered: bool,
    programmes: Iterable[QAResultProgramme],
    counts_from: Any,
    inherited_from: int | None,
) -> dict[str, Any]:
    """One result as a timeline holds it; registered: the agency was on EQAR on the result's valid_from."""
    return {
        "result_id": result.id,
        "agency": {
            "id": result.agency_id,
            "acronym": agency.acronym if agency else None,
            "name": agency.name if agency else None,
            "eqar_registered_at_decision": registered,
        },
        "activity_type": result.activity_type,
        "decision": result.decision,
        "valid_from": _iso(result.valid_from),
        "valid_to": _iso(result.valid_to),
        "revoked_from": _iso(result.revoked_from),
        "conditions_due": _iso(result.conditions_due),
        "limits": {
            "eqf_levels": list(result.limit_eqf_levels),
            "fields": list(result.limit_fields),
            "jurisdictions": list(result.limit_jurisdictions),
        },
        "programmes": [
            {
                "name": p.name,
                "identifier": p.identifier,
                "eqf_level": p.eqf_level,
                "field": p.isced_field,
                "ects": p.ects,
                "full_degree": p.full_degree,
            }
            for p in programmes
        ],
        "report_url": result.report_links[0] if result.report_links else None,
        "counts_from": _iso(counts_from),
        "inherited_from": inherited_from,
    }


def internal_qa_entry(assessments: Iterable[SelfAssessment]) -> dict[str, Any]:
    """The self-assessments' part of a timeline; assessments in version order."""
    assessments = list(assessments)
    latest = assessments[-1].state if assessments else None
    return {
        "latest_state": latest,
        "accepted": [
            {"accepted_on": _iso(a.accepted_on), "next_due": _iso(a.next_due)}
            for a in assessments
            if a.state == "accepted" and a.accepted_on is not None
        ],
    }
