"""Internal QA self-assessments (ESG Part 1): drafting, submitting, agency review, comparing versions.

A version moves draft -> submitted -> accepted | returned and is never changed after review; the
provider answers a returned version by starting the next one, which starts as a copy of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from registry.accounts.models import User
from registry.accounts.roles import agency_ids, is_operator, is_provider_staff, memberships
from registry.assessments.models import EvidenceFile, SelfAssessment, SelfAssessmentEntry
from registry.audit.services import Actor, record_event, snapshot
from registry.errors import Conflict, FieldErrors, NotFound, PermissionDenied, ValidationFailed
from registry.providers.models import Provider
from registry.qa.services import covering_agencies
from registry.reference.services import esg_part
from registry.settings import Settings
from registry.timeutil import add_years, today, utcnow
from registry.vocabulary import ASSESSMENT_RATINGS

MAX_NARRATIVE = 20_000
MAX_EVIDENCE_LINKS = 20
OPEN_STATES = ("draft", "submitted")
COMPARED_FIELDS = ("rating", "narrative", "evidence_links", "reviewer_comment")


@dataclass(frozen=True)
class StandardDifference:
    """How one standard differs between two versions: field -> (in the first, in the second)."""

    standard_code: str
    changes: dict[str, tuple[Any, Any]]


def get_assessment(session: Session, assessment_id: int) -> SelfAssessment:
    assessment = session.get(SelfAssessment, assessment_id)
    if assessment is None:
        raise NotFound(f"There is no self-assessment with id {assessment_id}.")
    return assessment


def versions(session: Session, provider_id: int) -> list[SelfAssessment]:
    return list(
        session.exec(
            select(SelfAssessment)
            .where(SelfAssessment.provider_id == provider_id)
            .order_by(col(SelfAssessment.version_number))
        )
    )


def entries(session: Session, assessment: SelfAssessment) -> dict[str, SelfAssessmentEntry]:
    """The entries of a version by standard code, in ESG order."""
    rows = {
        entry.standard_code: entry
        for entry in session.exec(select(SelfAssessmentEntry).where(SelfAssessmentEntry.assessment_id == assessment.id))
    }
    return {standard.code: rows[standard.code] for standard in esg_part(session, 1) if standard.code in rows}


def start_draft(session: Session, provider: Provider, actor: Actor) -> SelfAssessment:
    """A new version, starting from the latest one's answers so the provider only edits what changed."""
    previous = versions(session, provider.id or 0)
    latest = previous[-1] if previous else None
    if latest is not None and latest.state in OPEN_STATES:
        raise Conflict(
            f"Version {latest.version_number} is still {latest.state}; "
            "finish it before starting another self-assessment."
        )
    assessment = SelfAssessment(
        provider_id=provider.id or 0,
        version_number=(latest.version_number + 1) if latest else 1,
        state="draft",
        created_by_user_id=actor.user_id,
    )
    session.add(assessment)
    session.flush()
    copied = entries(session, latest) if latest else {}
    for standard in esg_part(session, 1):
        source = copied.get(standard.code)
        session.add(
            SelfAssessmentEntry(
                assessment_id=assessment.id or 0,
                standard_code=standard.code,
                rating=source.rating if source else None,
                narrative=source.narrative if source else None,
                evidence_links=list(source.evidence_links) if source else [],
            )
        )
    if latest is not None:
        # Evidence files are content-addressed, so carrying them over copies rows, not bytes.
        for evidence in session.exec(select(EvidenceFile).where(EvidenceFile.assessment_id == latest.id)):
            session.add(
                EvidenceFile(
                    assessment_id=assessment.id or 0,
                    standard_code=evidence.standard_code,
                    filename=evidence.filename,
                    media_type=evidence.media_type,
                    size=evidence.size,
                    sha256=evidence.sha256,
                    uploaded_by_user_id=evidence.uploaded_by_user_id,
                    uploaded_at=evidence.uploaded_at,
                )
            )
    session.flush()
    record_event(session, actor, "self_assessment.start", assessment)
    return assessment


def _check_version(assessment: SelfAssessment, expected_version: int) -> None:
    if assessment.version != expected_version:
        raise Conflict(
            f"This self-assessment was changed by someone else (version {assessment.version}, you edited "
            f"version {expected_version}). Reload it and apply your change again."
        )


def _require_state(assessment: SelfAssessment, state: str, doing: str) -> None:
    if assessment.state != state:
        raise Conflict(
            f"Only a {state} self-assessment can be {doing}; version {assessment.version_number} is {assessment.state}."
        )


def _touch(assessment: SelfAssessment) -> None:
    assessment.version += 1
    assessment.updated_at = utcnow()


def _entry_snapshot(rows: dict[str, SelfAssessmentEntry]) -> dict[str, Any]:
    return {
        code: {"rating": e.rating, "narrative": e.narrative, "evidence_links": list(e.evidence_links)}
        for code, e in rows.items()
    }


def save_entries(
    session: Session,
    assessment: SelfAssessment,
    changes: dict[str, dict[str, Any]],
    actor: Actor,
    expected_version: int,
) -> SelfAssessment:
    """Save answers per standard code; only the keys given (rating, narrative, evidence_links) change."""
    _check_version(assessment, expected_version)
    _require_state(assessment, "draft", "edited")
    rows = entries(session, assessment)
    errors = FieldErrors()
    # Validate everything before touching a row, so a refused save leaves the draft as it was.
    updates: dict[str, dict[str, Any]] = {}
    for code, change in changes.items():
        if code not in rows:
            errors.add(code, f"{code!r} is not an ESG Part 1 standard (1.1 to 1.10)")
            continue
        values: dict[str, Any] = {}
        if "rating" in change:
            values["rating"] = errors.choice(f"{code}.rating", change["rating"], ASSESSMENT_RATINGS, required=False)
        if "narrative" in change:
            values["narrative"] = errors.text(f"{code}.narrative", change["narrative"], False, MAX_NARRATIVE)
        if "evidence_links" in change:
            values["evidence_links"] = _evidence_links(errors, code, change["evidence_links"])
        updates[code] = values
    errors.raise_if_any()
    changed = {code: rows[code] for code in updates}
    before = _entry_snapshot(changed)
    for code, values in updates.items():
        for name, value in values.items():
            setattr(rows[code], name, value)
        session.add(rows[code])
    _touch(assessment)
    session.add(assessment)
    record_event(session, actor, "self_assessment.save", assessment, before=before, after=_entry_snapshot(changed))
    return assessment


def _evidence_links(errors: FieldErrors, code: str, links: Any) -> list[str]:
    if links is None:
        return []
    if isinstance(links, str) or not isinstance(links, list | tuple):
        errors.add(f"{code}.evidence_links", "evidence links are a list of web addresses")
        return []
    if len(links) > MAX_EVIDENCE_LINKS:
        errors.add(f"{code}.evidence_links", f"at most {MAX_EVIDENCE_LINKS} links per standard")
    clean: list[str] = []
    for index, link in enumerate(links):
        text = str(link or "").strip()
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(text) > 2000:
            errors.add(f"{code}.evidence_links[{index}]", f"{text!r} is not a web address (https://...)")
            continue
        clean.append(text)
    return clean


def submit(session: Session, assessment: SelfAssessment, actor: Actor, expected_version: int) -> SelfAssessment:
    """Hand a complete draft to the agency; every standard needs a rating and a narrative."""
    _check_version(assessment, expected_version)
    _require_state(assessment, "draft", "submitted")
    errors = FieldErrors()
    rows = entries(session, assessment)
    for standard in esg_part(session, 1):
        entry = rows.get(standard.code)
        if entry is None or not entry.rating:
            errors.add(f"{standard.code}.rating", f"rate standard {standard.code} ({standard.title})")
        if entry is None or not (entry.narrative or "").strip():
            errors.add(f"{standard.code}.narrative", f"describe how you meet standard {standard.code}")
    if errors.errors:
        raise ValidationFailed(errors.errors, "The self-assessment is incomplete: " + ", ".join(errors.errors))
    before = snapshot(assessment)
    assessment.state = "submitted"
    assessment.submitted_at = utcnow()
    _touch(assessment)
    session.add(assessment)
    record_event(session, actor, "self_assessment.submit", assessment, before=before)
    return assessment


def check_reviewer(session: Session, reviewer_user_id: int, provider_id: int) -> None:
    """An operator, or a reviewer of an agency covering the provider; never the provider's own staff."""
    user = session.get(User, reviewer_user_id)
    if user is None or not user.is_active:
        raise PermissionDenied("The reviewer is not an active user.")
    roles = memberships(session, reviewer_user_id)
    if is_provider_staff(roles, provider_id):
        raise PermissionDenied("Staff of a provider cannot review that provider's own self-assessment.")
    if is_operator(roles):
        return
    if not agency_ids(roles, "agency reviewer") & covering_agencies(session, provider_id):
        raise PermissionDenied("Only a reviewer of an agency that covers this provider can review its self-assessment.")


def review(
    session: Session,
    assessment: SelfAssessment,
    *,
    accept: bool,
    reviewer_user_id: int,
    actor: Actor,
    expected_version: int,
    settings: Settings,
    comment: str | None = None,
    standard_comments: dict[str, str] | None = None,
    on: dt.date | None = None,
) -> SelfAssessment:
    """Accept a submitted version (it then counts as internal QA until next_due) or return it with comments."""
    _check_version(assessment, expected_version)
    _require_state(assessment, "submitted", "reviewed")
    check_reviewer(session, reviewer_user_id, assessment.provider_id)
    errors = FieldErrors()
    overall = errors.text("comment", comment, required=False, max_length=MAX_NARRATIVE)
    rows = entries(session, assessment)
    per_standard: dict[str, str] = {}
    for code, text in (standard_comments or {}).items():
        if code not in rows:
            errors.add(f"standard_comments.{code}", f"{code!r} is not an ESG Part 1 standard (1.1 to 1.10)")
            continue
        cleaned = errors.text(f"standard_comments.{code}", text, required=False, max_length=MAX_NARRATIVE)
        if cleaned:
            per_standard[code] = cleaned
    if not accept and not overall and not per_standard:
        errors.add("comment", "say what the provider must change: a comment overall or on a standard")
    errors.raise_if_any()
    before = snapshot(assessment)
    for code, text in per_standard.items():
        rows[code].reviewer_comment = text
        session.add(rows[code])
    assessment.state = "accepted" if accept else "returned"
    assessment.reviewed_at = utcnow()
    assessment.reviewer_user_id = reviewer_user_id
    assessment.review_comment = overall
    if accept:
        assessment.accepted_on = on or today()
        assessment.next_due = add_years(assessment.accepted_on, settings.self_assessment_cycle_years)
    _touch(assessment)
    session.add(assessment)
    record_event(
        session,
        actor,
        "self_assessment.accept" if accept else "self_assessment.return",
        assessment,
        before=before,
        after={**(snapshot(assessment) or {}), "standard_comments": per_standard},
    )
    return assessment


def compare(session: Session, first: SelfAssessment, second: SelfAssessment) -> list[StandardDifference]:
    """Per standard, the fields that differ between two versions of the same provider's self-assessment."""
    if first.provider_id != second.provider_id:
        raise ValidationFailed({"assessment": "only versions of one provider's self-assessment can be compared"})
    a, b = entries(session, first), entries(session, second)
    differences = []
    for standard in esg_part(session, 1):
        left, right = a.get(standard.code), b.get(standard.code)
        changes = {
            name: (getattr(left, name, None), getattr(right, name, None))
            for name in COMPARED_FIELDS
            if getattr(left, name, None) != getattr(right, name, None)
        }
        if changes:
            differences.append(StandardDifference(standard.code, changes))
    return differences
