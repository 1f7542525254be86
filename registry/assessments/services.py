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

from registry.accounts.models import RoleMembership, User
from registry.accounts.roles import agency_ids, is_operator, is_provider_staff, memberships
from registry.assessments.models import EvidenceFile, SelfAssessment, SelfAssessmentEntry
from registry.audit.services import Actor, record_event, snapshot
from registry.errors import Conflict, FieldErrors, NotFound, PermissionDenied, ValidationFailed
from registry.mail.services import enqueue, render
from registry.providers.models import Provider
from registry.providers.services import display_name
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
        carried = select(EvidenceFile).where(
            EvidenceFile.assessment_id == latest.id, col(EvidenceFile.withdrawn_at).is_(None)
        )
        for evidence in session.exec(carried):
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
            # One message per box, naming the line, so the form shows it next to the links field.
            errors.add(f"{code}.evidence_links", f"line {index + 1}: {text!r} is not a web address (https://...)")
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
    if not accept:
        _tell_provider_returned(session, assessment, settings, overall, per_standard)
    return assessment


def _tell_provider_returned(
    session: Session, assessment: SelfAssessment, settings: Settings, comment: str | None, per_standard: dict[str, str]
) -> None:
    """E-mail the provider's staff that their version came back, in the same transaction as the return."""
    staff = session.exec(
        select(User.email)
        .join(RoleMembership, col(RoleMembership.user_id) == User.id)
        .where(
            RoleMembership.role == "provider staff",
            RoleMembership.provider_id == assessment.provider_id,
            col(User.is_active).is_(True),
        )
    ).all()
    if not staff:
        return
    name = display_name(session, assessment.provider_id)
    mail = render(
        "mail/assessment_returned",
        f"Self-assessment version {assessment.version_number} of {name} was returned with comments",
        {
            "provider_name": name,
            "version_number": assessment.version_number,
            "comment": comment or "",
            "standard_comments": sorted(per_standard.items()),
            "link": f"{settings.base_url}/staff/self-assessments/{assessment.id}",
        },
        cause=f"self_assessment_returned:{assessment.id}",
    )
    enqueue(session, [(email, mail) for email in sorted(set(staff))])


def returned_feedback(session: Session, assessment: SelfAssessment) -> dict[str, Any] | None:
    """For a draft answering a returned version: that version's comments, overall and per standard."""
    if assessment.state != "draft" or assessment.version_number < 2:
        return None
    previous = session.exec(
        select(SelfAssessment).where(
            SelfAssessment.provider_id == assessment.provider_id,
            SelfAssessment.version_number == assessment.version_number - 1,
        )
    ).first()
    if previous is None or previous.state != "returned":
        return None
    comments = {code: e.reviewer_comment for code, e in entries(session, previous).items() if e.reviewer_comment}
    return {"assessment": previous, "comment": previous.review_comment, "standards": comments}


def waiting_for_review(session: Session, agency_ids: set[int] | None) -> list[SelfAssessment]:
    """Submitted versions of providers these agencies cover (None: every agency, for operators), oldest first."""
    query = select(SelfAssessment).where(SelfAssessment.state == "submitted")
    versions_ = list(session.exec(query.order_by(col(SelfAssessment.submitted_at))))
    if agency_ids is None:
        return versions_
    return [v for v in versions_ if agency_ids & covering_agencies(session, v.provider_id)]


def latest_versions(session: Session, provider_ids: set[int]) -> list[SelfAssessment]:
    """Each provider's newest self-assessment version, for its staff's dashboard."""
    found = []
    for provider_id in sorted(provider_ids):
        all_versions = versions(session, provider_id)
        if all_versions:
            found.append(all_versions[-1])
    return found


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
