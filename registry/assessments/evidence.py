"""Evidence files of self-assessments: type checked by content, stored by checksum, downloaded by few.

The bytes live under var/evidence/<first two hex digits>/<sha256>, so one document attached to
several versions is stored once and a stored file can always be checked against its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, col, select

from registry import documents
from registry.accounts.models import RoleMembership
from registry.accounts.roles import agency_ids, is_operator, is_provider_staff
from registry.assessments.models import EvidenceFile, SelfAssessment
from registry.audit.services import Actor, mark_in_error, record_event
from registry.errors import Conflict, ValidationFailed
from registry.qa.services import covering_agencies
from registry.reference.services import esg_part
from registry.settings import Settings

# Re-exported: the document rules are the registry's, evidence is one use of them.
ACCEPTED, DOCX, ODF_TYPES, PDF = documents.ACCEPTED, documents.DOCX, documents.ODF_TYPES, documents.PDF
detect_media_type = documents.detect_media_type

MAX_EVIDENCE_BYTES = documents.MAX_DOCUMENT_BYTES
AREA = "evidence"


def storage_path(settings: Settings, sha256: str) -> Path:
    return documents.storage_path(settings, AREA, sha256)


def upload_evidence(
    session: Session,
    assessment: SelfAssessment,
    *,
    filename: str,
    content: BinaryIO | bytes,
    actor: Actor,
    settings: Settings,
    standard_code: str | None = None,
) -> EvidenceFile:
    if assessment.state != "draft":
        raise Conflict(
            f"Evidence can be added to a draft only; version {assessment.version_number} is {assessment.state}."
        )
    errors: dict[str, str] = {}
    checked = None
    try:
        checked = documents.check(content, filename, fallback_name="evidence")
    except ValidationFailed as error:
        errors.update(error.errors)
    if standard_code is not None and standard_code not in {s.code for s in esg_part(session, 1)}:
        errors["standard_code"] = f"{standard_code!r} is not an ESG Part 1 standard (1.1 to 1.10)"
    if errors or checked is None:
        raise ValidationFailed(errors)
    documents.store(settings, AREA, checked)
    evidence = EvidenceFile(
        assessment_id=assessment.id or 0,
        standard_code=standard_code,
        filename=checked.filename,
        media_type=checked.media_type,
        size=len(checked.data),
        sha256=checked.sha256,
        uploaded_by_user_id=actor.user_id,
    )
    session.add(evidence)
    session.flush()
    record_event(session, actor, "evidence.upload", evidence)
    return evidence


def read_evidence(settings: Settings, evidence: EvidenceFile) -> bytes:
    """The stored bytes, refused when they no longer match the checksum recorded at upload."""
    return documents.read(settings, AREA, evidence.sha256)


def may_download(session: Session, evidence: EvidenceFile, roles: Sequence[RoleMembership]) -> bool:
    """The provider's staff, staff of an agency covering the provider, and operators; nobody else."""
    assessment = session.get(SelfAssessment, evidence.assessment_id)
    if assessment is None:
        return False
    if is_operator(roles) or is_provider_staff(roles, assessment.provider_id):
        return True
    return bool(agency_ids(roles) & covering_agencies(session, assessment.provider_id))


def evidence_files(session: Session, assessment: SelfAssessment) -> list[EvidenceFile]:
    return list(
        session.exec(
            select(EvidenceFile).where(EvidenceFile.assessment_id == assessment.id).order_by(col(EvidenceFile.id))
        )
    )


def withdraw_evidence(session: Session, evidence: EvidenceFile, *, reason: str, actor: Actor) -> EvidenceFile:
    """Evidence attached in error leaves the draft (and the versions after it); row and bytes stay for audit."""
    assessment = session.get(SelfAssessment, evidence.assessment_id)
    if assessment is None or assessment.state != "draft":
        raise Conflict("Evidence can be withdrawn from a draft only; a submitted or reviewed version stays as it was.")
    mark_in_error(
        session,
        evidence,
        reason=reason,
        actor=actor,
        event="evidence.withdraw",
        mark="withdrawn",
        already="this file is already withdrawn",
    )
    return evidence
