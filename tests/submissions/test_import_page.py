"""The import page as an agency editor uses it: upload a CSV, read the rows, download the report."""

from __future__ import annotations

import csv
import io

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.qa.models import QAResult
from registry.settings import Settings
from registry.submissions.views import PROGRESS_AREA, ImportProgress
from tests.conftest import post_form, sign_in
from tests.factories import World
from tests.submissions.test_csv import ROWS, institution, upload  # noqa: F401 (the fixture)


def send(client: TestClient, agency_id: int, content: bytes, **fields: str):  # type: ignore[no-untyped-def]
    form = {"agency_id": str(agency_id), "mode": "row-by-row", **fields}
    return post_form(client, "/staff/imports/", form, files={"file": ("reports.csv", content, "text/csv")})


class TestImportPage:
    def test_an_editor_imports_a_csv_and_downloads_the_report_of_a_broken_row(
        self,
        client: TestClient,
        world: World,
        session: Session,
        institution: int,  # noqa: F811
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        assert client.get("/staff/imports/").status_code == 200
        broken = ROWS[1].replace("2016-06-18", "next week")
        page = send(client, world.agency_a, upload([ROWS[0], broken]))
        assert page.status_code == 400
        assert "1 created, 1 rejected" in page.text and "Imported" in page.text
        assert "does not match the date format" in page.text
        link = page.text.split('href="/staff/imports/reports/')[1].split('"')[0]
        download = client.get(f"/staff/imports/reports/{link}")
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        rejected = [line for line in csv.reader(io.StringIO(download.text)) if line[2] == "rejected"]
        assert rejected[0][0] == "3" and rejected[0][4] == "valid_from"
        assert session.exec(select(QAResult).where(QAResult.local_id == "ANTWERP-May18")).first() is not None
        every_row_broken = send(client, world.agency_a, upload([broken.replace("ESML-Dec17", "ESML-2")]))
        assert "Nothing saved: every row was rejected" in every_row_broken.text
        # Someone else's report is nobody else's to read.
        client.cookies.clear()
        sign_in(client, world.emails["editor_b"])
        assert client.get(f"/staff/imports/reports/{link}").status_code == 404

    def test_unreadable_files_and_foreign_agencies_are_answered_next_to_the_field(
        self,
        client: TestClient,
        world: World,
        session: Session,
        institution: int,  # noqa: F811
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        page = send(client, world.agency_a, b"colour,size\nred,big\n")
        assert page.status_code == 400 and 'id="e-file"' in page.text and "Unknown columns" in page.text
        page = send(client, world.agency_b, upload(ROWS))
        assert page.status_code == 400 and 'id="e-agency_id"' in page.text
        page = send(client, world.agency_a, upload(ROWS), dry_run="yes")
        assert page.status_code == 200 and "Checked (nothing saved)" in page.text
        assert session.exec(select(QAResult).where(QAResult.local_id == "ANTWERP-May18")).first() is None

    def test_a_file_over_the_limit_is_refused_next_to_the_field(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        from registry.submissions.csv_import import MAX_CSV_BYTES

        sign_in(client, world.emails["editor_a"])
        page = send(client, world.agency_a, upload(ROWS) + b"#" * MAX_CSV_BYTES)
        assert page.status_code == 400 and 'id="e-file"' in page.text and "at most 20 MB" in page.text
        assert session.exec(select(QAResult).where(QAResult.local_id == "ANTWERP-May18")).first() is None

    def test_providers_are_created_only_when_the_box_is_ticked(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        from tests.submissions.test_new_providers import TestCsvCreation, providers_with

        sign_in(client, world.emails["editor_a"])
        content = f"{TestCsvCreation.HEADER}\n{TestCsvCreation.ROW}\n".encode()
        page = send(client, world.agency_a, content)
        assert page.status_code == 400 and "needs the scope" in page.text
        assert providers_with(session, "eter", "PT0044") == []
        page = send(client, world.agency_a, content, create_providers="yes")
        assert page.status_code == 200, page.text
        assert "1 created" in page.text and len(providers_with(session, "eter", "PT0044")) == 1


class TestProgress:
    def test_the_uploader_alone_reads_the_progress_of_an_upload_and_it_is_gone_when_done(
        self,
        client: TestClient,
        world: World,
        session: Session,
        settings: Settings,
        institution: int,  # noqa: F811
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        progress_id = "abcdefghijklmnop0123"
        assert client.get(f"/staff/imports/progress/{progress_id}").status_code == 404
        running = ImportProgress(settings, world.user_ids["editor_a"], progress_id, total=10)
        running.set_stage("importing rows")
        for _ in range(3):
            running.step(1)
        running.set_stage("importing rows")
        answer = client.get(f"/staff/imports/progress/{progress_id}")
        assert answer.status_code == 200 and answer.json() == {"stage": "importing rows", "done": 3, "total": 10}
        assert answer.headers["cache-control"] == "no-store"
        assert client.get("/staff/imports/progress/..%2F..%2Fetc").status_code == 404
        client.cookies.clear()
        sign_in(client, world.emails["editor_b"])
        assert client.get(f"/staff/imports/progress/{progress_id}").status_code == 404
        running.remove()
        # An upload's progress file lives while it is imported, and goes when the answer is sent.
        client.cookies.clear()
        sign_in(client, world.emails["editor_a"])
        page = send(client, world.agency_a, upload(ROWS), progress_id="zyxwvutsrqponmlk9876")
        assert page.status_code == 200
        assert list((settings.var_dir / PROGRESS_AREA).glob("*")) == []
