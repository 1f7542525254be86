"""Evidence files of self-assessments: type checked by content, stored by checksum, downloaded by few.

The bytes live under var/evidence/<first two hex digits>/<sha256>, so one document attached to
several versions is stored once and a stored file can always be checked against its name.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, col, select

from registry.accounts.models import RoleMembership
from registry.accounts.roles import agency_ids, is_operator, is_provider_staff
from registry.assessments.models import EvidenceFile, SelfAssessment
from registry.audit.services import Actor, record_event
from registry.errors import Conflict, ValidationFailed
from registry.qa.services import covering_agencies
from registry.reference.services import esg_part
from registry.settings import Settings

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODF_TYPES = (
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
)
ACCEPTED = "PDF, OpenDocument (odt, ods, odp) or Word (docx)"


def detect_media_type(data: bytes) -> str | None:
    """What the bytes are, whatever the file name says; None for anything not accepted."""
    if data.startswith(b"%PDF-"):
        return PDF
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # ODF stores its type uncompressed as the first entry; read only a few bytes of it.
                if archive.getinfo("mimetype").file_size > 100:
                    return None
                declared = archive.read("mimetype").decode("ascii", errors="replace").strip()
                return declared if declared in ODF_TYPES else None
            if "[Content_Types].xml" in names and any(name.startswith("word/") for name in names):
                return DOCX
    except (zipfile.BadZipFile, KeyError, ValueError):
        return None
    return None


def storage_path(settings: Settings, sha256: str) -> Path:
    return settings.var_dir / "evidence" / sha256[:2] / sha256


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
    # Read one byte past the limit so an oversized upload is refused without reading all of it.
    data = content if isinstance(content, bytes) else content.read(MAX_EVIDENCE_BYTES + 1)
    errors: dict[str, str] = {}
    media_type = None
    if not data:
        errors["file"] = "the file is empty"
    elif len(data) > MAX_EVIDENCE_BYTES:
        errors["file"] = f"a file may be at most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB"
    else:
        media_type = detect_media_type(data)
        if media_type is None:
            errors["file"] = f"this is not a {ACCEPTED} document"
    if standard_code is not None and standard_code not in {s.code for s in esg_part(session, 1)}:
        errors["standard_code"] = f"{standard_code!r} is not an ESG Part 1 standard (1.1 to 1.10)"
    name = Path((filename or "").replace("\\", "/")).name.strip()[:200] or "evidence"
    if errors:
        raise ValidationFailed(errors)
    checksum = hashlib.sha256(data).hexdigest()
    _store(storage_path(settings, checksum), data)
    evidence = EvidenceFile(
        assessment_id=assessment.id or 0,
        standard_code=standard_code,
        filename=name,
        media_type=media_type or "",
        size=len(data),
        sha256=checksum,
        uploaded_by_user_id=actor.user_id,
    )
    session.add(evidence)
    session.flush()
    record_event(session, actor, "evidence.upload", evidence)
    return evidence


def _store(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file under its checksum.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_evidence(settings: Settings, evidence: EvidenceFile) -> bytes:
    """The stored bytes, refused when they no longer match the checksum recorded at upload."""
    data = storage_path(settings, evidence.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != evidence.sha256:
        raise RuntimeError(f"evidence file {evidence.id} is corrupt: its checksum does not match")
    return data


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
