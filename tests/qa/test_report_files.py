"""Agency staff attach report files; anyone downloads them; verdicts point at them when no link exists."""

from __future__ import annotations

import io
import re
import zipfile

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.qa.models import QAReportFile, QAResult
from tests.conftest import sign_in
from tests.factories import World, pdf_document

HTML = {"accept": "text/html"}
PDF = pdf_document()


def _upload(client: TestClient, result_id: int, name: str, data: bytes):  # type: ignore[no-untyped-def]
    page = client.get(f"/staff/results/{result_id}/reports", headers=HTML)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    return client.post(
        f"/staff/results/{result_id}/reports",
        data={"_csrf_token": token.group(1)},
        files={"file": (name, data, "application/octet-stream")},
        headers=HTML,
        follow_redirects=False,
    )


class TestReportFiles:
    def test_an_editor_uploads_a_report_that_anyone_downloads(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        assert _upload(client, world.result_r, "report.pdf", PDF).status_code == 303
        stored = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
        assert (stored.content_type, stored.size) == ("application/pdf", len(PDF))
        listing = client.get(f"/staff/results/{world.result_r}/reports", headers=HTML)
        assert "report.pdf" in listing.text
        client.cookies.clear()
        download = client.get(f"/reports/{stored.id}")
        assert download.status_code == 200
        assert download.content == PDF
        assert download.headers["content-type"].startswith("application/pdf")

    def test_the_type_is_checked_by_content_not_name(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        refused = _upload(client, world.result_r, "report.pdf", b"MZ\x90\x00 not a pdf at all")
        assert refused.status_code == 400
        assert 'id="e-file"' in refused.text and "not a PDF, OpenDocument" in refused.text
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as odt:
            odt.writestr("mimetype", "application/vnd.oasis.opendocument.text")
            odt.writestr("content.xml", "<office:document-content/>")
        assert _upload(client, world.result_r, "report.bin", archive.getvalue()).status_code == 303

    def test_another_agencys_editor_cannot_attach(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_b"])
        page = client.get(f"/staff/results/{world.result_r}/reports", headers=HTML)
        assert page.status_code == 403

    def test_the_verdict_links_the_file_when_the_result_has_no_report_url(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        result = session.get(QAResult, world.result_r)
        assert result is not None and not result.report_links
        sign_in(client, world.emails["editor_a"])
        _upload(client, world.result_r, "report.pdf", PDF)
        stored = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
        entry = client.get(f"/api/v1/providers/{world.provider_p}").json()
        [files] = [r["report_files"] for r in entry["results"] if r["id"] == world.result_r]
        assert files[0]["url"].endswith(f"/reports/{stored.id}")
        from registry.trust.models import TrustTimeline

        session.expire_all()
        timeline = session.get(TrustTimeline, world.provider_p)
        assert timeline is not None
        [basis] = [r for r in timeline.document["results"] if r["result_id"] == world.result_r]
        assert basis["report_url"].endswith(f"/reports/{stored.id}")
