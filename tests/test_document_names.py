"""Uploaded file names: any script survives the download (RFC 6266 filename*), no name can break a header."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry import documents
from registry.assessments import evidence
from registry.assessments import services as assessments
from registry.providers.models import Provider
from registry.qa.models import QAReportFile
from registry.settings import Settings
from tests import factories as f
from tests.conftest import sign_in
from tests.factories import World

HTML = {"accept": "text/html"}
PDF = f.pdf_document()


def _name_a_browser_saves(header: str) -> str | None:
    """The file name a browser takes from Content-Disposition: filename* (RFC 6266 section 4.3) when present."""
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header, re.IGNORECASE)
    if extended:
        return unquote(extended.group(1), errors="strict")
    plain = re.search(r'filename="([^"]*)"', header)
    return plain.group(1) if plain else None


class TestContentDisposition:
    @pytest.mark.parametrize("name", ["отчёт.pdf", "名前.pdf", 'Résumé "final" 100%.pdf', "report.pdf"])
    def test_every_name_survives_with_an_ascii_stand_in(self, name: str) -> None:
        header = documents.content_disposition("attachment", name)
        header.encode("ascii")  # a header value any HTTP stack sends unchanged
        assert _name_a_browser_saves(header) == name
        fallback = re.search(r'filename="([^"]*)"', header)
        assert fallback is not None and fallback.group(1).endswith(".pdf")

    def test_an_accent_keeps_its_letter_in_the_stand_in(self) -> None:
        assert 'filename="Resume.pdf"' in documents.content_disposition("inline", "Résumé.pdf")

    def test_line_breaks_and_control_characters_are_dropped(self) -> None:
        header = documents.content_disposition("attachment", "a\r\nSet-Cookie: x=1\x00.pdf")
        assert not re.search(r"[\x00-\x1f\x7f]", header)
        assert _name_a_browser_saves(header) == "a Set-Cookie: x=1 .pdf"


def _upload_report(client: TestClient, result_id: int, name: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/staff/results/{result_id}/reports", headers=HTML)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        f"/staff/results/{result_id}/reports",
        data={"_csrf_token": token.group(1)},
        files={"file": (name, PDF, "application/pdf")},
        headers=HTML,
        follow_redirects=False,
    )


class TestReportDownloads:
    @pytest.mark.parametrize("name", ["отчёт.pdf", "名前.pdf"])
    def test_a_report_named_in_any_script_downloads_under_its_name(
        self, session: Session, client: TestClient, world: World, name: str
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        assert _upload_report(client, world.result_r, name).status_code == 303
        stored = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
        assert stored.filename == name
        client.cookies.clear()
        download = client.get(f"/reports/{stored.id}")
        assert download.status_code == 200
        assert download.content == PDF
        assert _name_a_browser_saves(download.headers["content-disposition"]) == name

    def test_a_stored_name_with_a_line_break_cannot_split_the_header(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        assert _upload_report(client, world.result_r, "report.pdf").status_code == 303
        stored = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
        # A name saved before names were cleaned at upload.
        stored.filename = "report\r\nSet-Cookie: session=stolen.pdf"
        session.add(stored)
        session.commit()
        download = client.get(f"/reports/{stored.id}")
        assert download.status_code == 200
        assert "stolen" not in download.headers.get("set-cookie", "")
        assert "\r" not in download.headers["content-disposition"]
        assert "\n" not in download.headers["content-disposition"]


class TestEvidenceDownloads:
    def test_a_name_with_a_line_break_is_cleaned_at_upload_and_downloads_under_its_script(
        self, session: Session, client: TestClient, world: World, settings: Settings
    ) -> None:
        provider = session.get(Provider, world.provider_p)
        assert provider is not None
        draft = assessments.start_draft(session, provider, f.TEST)
        record = evidence.upload_evidence(
            session, draft, filename="отчёт\r\n.pdf", content=io.BytesIO(PDF), actor=f.TEST, settings=settings
        )
        session.commit()
        assert record.filename == "отчёт .pdf"
        sign_in(client, world.emails["staff_p"])
        download = client.get(f"/staff/evidence/{record.id}")
        assert download.status_code == 200
        assert download.content == PDF
        assert _name_a_browser_saves(download.headers["content-disposition"]) == "отчёт .pdf"
        assert download.headers["content-disposition"].startswith("attachment;")
