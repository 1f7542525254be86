"""What staff must act on soon: expiring results, conditions follow-ups, reviews waiting, recent changes."""

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
from registry.providers.services import display_name
from registry.qa.models import QAResult, QAResultProvider

HORIZON_DAYS = 180


def _results_row(session: Session, result: QAResult, due: dt.date | None) -> dict[str, Any]:
    provider_ids = list(
        session.exec(select(QAResultProvider.provider_id).where(QAResultProvider.result_id == result.id))
    )
    agency = session.get(Agency, result.agency_id)
    return {
        "result_id": result.id,
        "agency": agency.acronym if agency else "",
        "providers": [(pid, display_name(session, pid)) for pid in provider_ids],
        "decision": result.decision,
        "due": due,
    }


def agency_dashboard(session: Session, agency_ids: set[int] | None, day: dt.date) -> dict[str, Any]:
    """The dashboard of agency staff; agency_ids None means every agency (operators)."""
    horizon = day + dt.timedelta(days=HORIZON_DAYS)
    live = select(QAResult).where(col(QAResult.withdrawn_at).is_(None), col(QAResult.revoked_from).is_(None))
    if agency_ids is not None:
        live = live.where(col(QAResult.agency_id).in_(agency_ids))
    expiring = session.exec(
        live.where(QAResult.valid_to >= day, QAResult.valid_to <= horizon).order_by(col(QAResult.valid_to))
    ).all()
    # Follow-ups already overdue stay listed while the result is still valid: someone must chase them.
    conditions = session.exec(
        live.where(
            col(QAResult.conditions_due).is_not(None),
            QAResult.conditions_due <= horizon,  # type: ignore[operator]
            QAResult.valid_to >= day,
        ).order_by(col(QAResult.conditions_due))
    ).all()
    covered = select(QAResultProvider.provider_id).join(QAResult, col(QAResult.id) == QAResultProvider.result_id)
    if agency_ids is not None:
        covered = covered.where(col(QAResult.agency_id).in_(agency_ids))
    waiting = session.exec(
        select(SelfAssessment)
        .where(SelfAssessment.state == "submitted", col(SelfAssessment.provider_id).in_(covered))
        .order_by(col(SelfAssessment.submitted_at))
    ).all()
    result_ids = select(QAResult.id)
    if agency_ids is not None:
        result_ids = result_ids.where(col(QAResult.agency_id).in_(agency_ids))
    recent = session.exec(
        select(AuditEvent)
        .where(
            or_(
                and_(col(AuditEvent.entity_type) == "qa_result", col(AuditEvent.entity_id).in_(result_ids)),
                and_(col(AuditEvent.entity_type) == "provider", col(AuditEvent.entity_id).in_(covered)),
            )
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(20)
    ).all()
    return {
        "expiring": [_results_row(session, r, r.valid_to) for r in expiring],
        "conditions": [_results_row(session, r, r.conditions_due) for r in conditions],
        "waiting": [
            {"id": a.id, "provider": (a.provider_id, display_name(session, a.provider_id)), "since": a.submitted_at}
            for a in waiting
        ],
        "recent": tell_all(session, list(recent)),
        "horizon_days": HORIZON_DAYS,
    }


def provider_deadlines(session: Session, provider_ids: set[int], day: dt.date) -> list[ReviewDeadline]:
    """Provider staff see their own provider's coming deadlines."""
    return list(
        session.exec(
            select(ReviewDeadline)
            .where(col(ReviewDeadline.provider_id).in_(provider_ids), ReviewDeadline.due_on >= day)
            .order_by(col(ReviewDeadline.due_on))
        )
    )
