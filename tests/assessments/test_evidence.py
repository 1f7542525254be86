"""Evidence files: content-based type checks, size limit, checksum storage and who may download."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from sqlmodel import Session

from registry.accounts.models import RoleMembership
from registry.assessments import evidence as ev
from registry.assessments import services as sa
from registry.assessments.models import SelfAssessment
from registry.errors import Conflict, ValidationFailed
from registry.providers.models import Provider
from registry.settings import Settings
from tests import factories as f

PDF = f.pdf_document()


def odf(mimetype: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


class TestDetectMediaType:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (PDF, ev.PDF),
            (odf("application/vnd.oasis.opendocument.text"), "application/vnd.oasis.opendocument.text"),
            (odf("application/vnd.oasis.opendocument.spreadsheet"), "application/vnd.oasis.opendocument.spreadsheet"),
            (odf("application/vnd.oasis.opendocument.presentation"), "application/vnd.oasis.opendocument.presentation"),
            (docx(), ev.DOCX),
            (odf("application/epub+zip"), None),
            (xlsx(), None),
            (b"PK\x03\x04 not really a zip", None),
            (b"<html><body>%PDF-</body></html>", None),
            (b"MZ\x90\x00", None),
        ],
    )
    def test_by_content(self, data: bytes, expected: str | None) -> None:
        assert ev.detect_media_type(data) == expected


@pytest.fixture
def provider(session: Session) -> Provider:
    return f.provider(session)


@pytest.fixture
def draft(session: Session, provider: Provider) -> SelfAssessment:
    return sa.start_draft(session, provider, f.TEST)


class TestUpload:
    def test_stores_by_checksum_and_records_the_file(
        self, session: Session, draft: SelfAssessment, settings: Settings
    ) -> None:
        record = ev.upload_evidence(
            session,
            draft,
            filename="../../etc/policy.pdf",
            content=io.BytesIO(PDF),
            actor=f.TEST,
            settings=settings,
            standard_code="1.1",
        )
        checksum = hashlib.sha256(PDF).hexdigest()
        assert (record.sha256, record.size, record.media_type, record.filename) == (
            checksum,
            len(PDF),
            ev.PDF,
            "policy.pdf",
        )
        path = settings.var_dir / "evidence" / checksum[:2] / checksum
        assert path.read_bytes() == PDF
        assert ev.read_evidence(settings, record) == PDF

    def test_the_name_does_not_decide_the_type(
        self, session: Session, draft: SelfAssessment, settings: Settings
    ) -> None:
        with pytest.raises(ValidationFailed) as caught:
            ev.upload_evidence(
                session,
                draft,
                filename="report.pdf",
                content=b"<script>alert(1)</script>",
                actor=f.TEST,
                settings=settings,
            )
        assert "not a PDF" in caught.value.errors["file"]
        assert not (settings.var_dir / "evidence").exists()

    def test_at_most_20_mb(self, session: Session, draft: SelfAssessment, settings: Settings) -> None:
        exactly = f.pdf_document(ev.MAX_EVIDENCE_BYTES)
        assert len(exactly) == ev.MAX_EVIDENCE_BYTES
        assert ev.upload_evidence(session, draft, filename="a.pdf", content=exactly, actor=f.TEST, settings=settings)
        with pytest.raises(ValidationFailed, match="at most 20 MB"):
            ev.upload_evidence(
                session, draft, filename="b.pdf", content=io.BytesIO(exactly + b"0"), actor=f.TEST, settings=settings
            )

    def test_empty_file_and_unknown_standard(self, session: Session, draft: SelfAssessment, settings: Settings) -> None:
        with pytest.raises(ValidationFailed) as caught:
            ev.upload_evidence(
                session, draft, filename="a.pdf", content=b"", actor=f.TEST, settings=settings, standard_code="2.1"
            )
        assert set(caught.value.errors) == {"file", "standard_code"}

    def test_only_drafts_take_evidence(self, session: Session, draft: SelfAssessment, settings: Settings) -> None:
        draft.state = "submitted"
        with pytest.raises(Conflict):
            ev.upload_evidence(session, draft, filename="a.pdf", content=PDF, actor=f.TEST, settings=settings)

    def test_the_next_version_carries_the_files_over_without_copying_bytes(
        self, session: Session, provider: Provider, draft: SelfAssessment, settings: Settings
    ) -> None:
        ev.upload_evidence(
            session,
            draft,
            filename="plan.odt",
            content=odf(ev.ODF_TYPES[0]),
            actor=f.TEST,
            settings=settings,
            standard_code="1.1",
        )
        draft.state = "returned"
        session.add(draft)
        second = sa.start_draft(session, provider, f.TEST)
        files = ev.evidence_files(session, second)
        assert [(e.filename, e.standard_code) for e in files] == [("plan.odt", "1.1")]
        assert len(list((settings.var_dir / "evidence").rglob("*"))) == 2  # one folder, one file

    def test_a_tampered_file_is_refused_on_read(
        self, session: Session, draft: SelfAssessment, settings: Settings
    ) -> None:
        record = ev.upload_evidence(session, draft, filename="x.docx", content=docx(), actor=f.TEST, settings=settings)
        ev.storage_path(settings, record.sha256).write_bytes(b"changed")
        with pytest.raises(RuntimeError, match="corrupt"):
            ev.read_evidence(settings, record)


class TestMayDownload:
    def test_provider_staff_covering_agency_and_operators_only(
        self, session: Session, provider: Provider, draft: SelfAssessment, settings: Settings
    ) -> None:
        covering, other = f.agency(session), f.agency(session)
        f.result(session, covering, [provider])
        record = ev.upload_evidence(session, draft, filename="a.pdf", content=PDF, actor=f.TEST, settings=settings)

        def may(role: str, **scope: int | None) -> bool:
            return ev.may_download(session, record, [RoleMembership(user_id=1, role=role, **scope)])

        assert may("provider staff", provider_id=provider.id)
        assert not may("provider staff", provider_id=f.provider(session).id)
        assert may("agency reviewer", agency_id=covering.id)
        assert may("agency editor", agency_id=covering.id)
        assert not may("agency reviewer", agency_id=other.id)
        assert may("operator")
        assert not ev.may_download(session, record, [])
