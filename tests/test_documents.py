"""Uploaded documents: the documented size limit end to end, real content checks, and safe downloads."""

from __future__ import annotations

import io
import zipfile

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry import documents
from registry.errors import ValidationFailed
from registry.qa.models import QAReportFile
from tests.conftest import sign_in
from tests.factories import World, pdf_document
from tests.qa.test_report_files import _upload

MB = 1024 * 1024


def _docx(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class TestContent:
    def test_a_real_pdf_is_accepted(self) -> None:
        assert documents.detect_media_type(pdf_document()) == documents.PDF

    @pytest.mark.parametrize(
        "data",
        [
            b"%PDF-1.7\n<html><body><script>alert(document.cookie)</script></body></html>\n",
            b"%PDF-1.4\n<html></html>\n%%EOF\n",
            pdf_document()[:-300],
        ],
        ids=["html-after-the-header", "html-with-an-eof-marker", "truncated"],
    )
    def test_a_pdf_header_alone_does_not_make_a_pdf(self, data: bytes) -> None:
        assert documents.detect_media_type(data) is None
        with pytest.raises(ValidationFailed, match="not a PDF"):
            documents.check(data, "report.pdf")

    def test_a_word_file_that_unpacks_to_far_more_than_its_size_is_refused(self) -> None:
        bomb = _docx({"word/media/zeros.bin": bytes(documents.MAX_UNPACKED_BYTES + MB)})
        assert len(bomb) < 2 * MB  # a small upload...
        with pytest.raises(ValidationFailed) as refused:
            documents.check(bomb, "minutes.docx")
        assert "unpacks to more than 200 MB" in refused.value.errors["file"]

    def test_a_container_of_too_many_parts_is_refused(self) -> None:
        crowded = _docx({f"word/media/{index}.xml": b"" for index in range(documents.MAX_ZIP_ENTRIES)})
        with pytest.raises(ValidationFailed, match="more than 5000 parts"):
            documents.check(crowded, "minutes.docx")

    def test_a_large_ordinary_word_file_is_accepted(self) -> None:
        ordinary = _docx({"word/media/image.bin": bytes(50 * MB)})
        assert documents.check(ordinary, "minutes.docx").media_type == documents.DOCX


class TestSizeLimit:
    def test_a_file_just_under_20_mb_goes_through_the_form(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        large = pdf_document(int(19.9 * MB))
        assert _upload(client, world.result_r, "large.pdf", large).status_code == 303
        stored = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
        assert stored.size == len(large)
        assert client.get(f"/reports/{stored.id}").content == large

    def test_a_file_just_over_20_mb_is_refused_next_to_the_field(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        refused = _upload(client, world.result_r, "large.pdf", pdf_document(int(20.1 * MB)))
        assert refused.status_code == 400
        assert 'id="e-file"' in refused.text and "at most 20 MB" in refused.text

    def test_a_request_far_over_the_limit_gets_a_page_saying_so(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        refused = _upload(client, world.result_r, "huge.pdf", bytes(documents.MAX_UPLOAD_REQUEST_BYTES + MB))
        assert refused.status_code == 413
        assert "Too large" in refused.text and "at most 20 MB" in refused.text

    def test_the_api_answers_an_oversized_body_with_problem_json(self, client: TestClient) -> None:
        body = b'{"queries": [' + b'{"identifier": "did:web:a.example"},' * 400_000 + b"{}]}"
        refused = client.post("/api/v1/trust/batch", content=body, headers={"content-type": "application/json"})
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/problems/too-large")


def test_downloads_are_attachments_that_never_run(session: Session, client: TestClient, world: World) -> None:
    sign_in(client, world.emails["editor_a"])
    assert _upload(client, world.result_r, "report.pdf", pdf_document()).status_code == 303
    stored = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
    client.cookies.clear()
    download = client.get(f"/reports/{stored.id}")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"].startswith("sandbox;")
    assert "default-src 'none'" in download.headers["content-security-policy"]
