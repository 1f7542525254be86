"""Report files named by URL are fetched like identifier proofs: against a real local HTTPS server.

Every network failure is a field error on that report, never a 500; the fetch runs before the write
transaction, so other writes go on while a slow server trickles.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from registry import documents, migrations
from registry.agencies.services import add_registration, create_agency
from registry.app import create_app
from registry.db import create_db_engine
from registry.qa.models import QAReportFile, QAResult
from registry.qa.services import withdraw_report_file
from registry.reference.services import load_reference
from registry.settings import Settings
from registry.submissions import fetching
from registry.web import Database
from tests import factories as f
from tests.conftest import free_port
from tests.factories import World
from tests.https_server import LocalHTTPS, local_https
from tests.submissions.test_api import URL, bearer, make_token, programme_report
from tests.submissions.test_csv import URL as CSV_URL

PDF = f.pdf_document()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHTTPS]:
    with local_https(tmp_path_factory.mktemp("https")) as running:
        yield running


def reaching(settings: Settings, server: LocalHTTPS, **changes: Any) -> Settings:
    """Settings that let fetches reach the local server: loopback allowed, its CA trusted, short deadlines."""
    server.routes.clear()
    server.requests.clear()
    values: dict[str, Any] = {
        "allow_private_fetch": True,
        "fetch_ca_bundle": str(server.ca_file),
        "report_fetch_seconds": 1.5,
        "report_fetch_budget_seconds": 10.0,
    }
    return dataclasses.replace(settings, **{**values, **changes})


@pytest.fixture
def fetching_client(settings: Settings, connection: Connection, server: LocalHTTPS) -> Iterator[TestClient]:
    with TestClient(create_app(reaching(settings, server), bind=connection), base_url="http://registry.test") as c:
        yield c


@pytest.fixture
def institution(session: Session) -> int:
    provider = f.provider(session, identifiers=[{"scheme": "eter", "value": "DE0140"}])
    return provider.id or 0


def by_url(location: str) -> list[dict[str, str]]:
    return [{"original_location": location, "display_name": "Report"}]


def files_of(session: Session, local_id: str) -> list[QAReportFile]:
    result = session.exec(select(QAResult).where(QAResult.local_id == local_id)).first()
    if result is None:
        return []
    return list(session.exec(select(QAReportFile).where(QAReportFile.result_id == result.id)))


class TestFetched:
    def test_a_pdf_by_url_is_fetched_checked_and_kept_once(
        self, fetching_client: TestClient, world: World, session: Session, server: LocalHTTPS, institution: int
    ) -> None:
        server.serve("/reports/2024%20review.pdf", PDF, Content_Type="application/pdf")
        secret = make_token(session, world.agency_a)
        report = programme_report("URL-1", report_files=by_url(f"{server.origin}/reports/2024%20review.pdf"))
        answer = fetching_client.post(URL, json=report, headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        (stored,) = files_of(session, "URL-1")
        assert (stored.filename, stored.content_type, stored.size) == ("2024 review.pdf", "application/pdf", len(PDF))
        # Sent again: fetched again, the same bytes, so nothing is attached twice.
        again = fetching_client.post(URL, json=report, headers=bearer(secret)).json()["reports"][0]
        assert again["submission_status"] == "unchanged" and len(files_of(session, "URL-1")) == 1
        assert server.requests == ["/reports/2024%20review.pdf"] * 2

    def test_a_file_staff_withdrew_is_not_brought_back_by_sending_the_report_again(
        self, fetching_client: TestClient, world: World, session: Session, server: LocalHTTPS, institution: int
    ) -> None:
        server.serve("/r.pdf", PDF)
        secret = make_token(session, world.agency_a)
        report = programme_report("URL-W", report_files=by_url(f"{server.origin}/r.pdf"))
        assert fetching_client.post(URL, json=report, headers=bearer(secret)).status_code == 200
        (stored,) = files_of(session, "URL-W")
        withdraw_report_file(session, stored, reason="the wrong programme's report", actor=f.TEST)
        session.commit()
        again = fetching_client.post(URL, json=report, headers=bearer(secret)).json()["reports"][0]
        assert again["submission_status"] == "unchanged" and len(files_of(session, "URL-W")) == 1

    def test_a_redirect_to_another_host_is_followed_and_checked_anew(
        self, fetching_client: TestClient, world: World, session: Session, server: LocalHTTPS, institution: int
    ) -> None:
        # 127.0.0.1 and localhost are different hosts with the same certificate.
        server.serve("/moved", "", 302, Location=f"https://localhost:{server.port}/real.pdf")
        server.serve("/real.pdf", PDF)
        secret = make_token(session, world.agency_a)
        report = programme_report("URL-2", report_files=by_url(f"{server.origin}/moved"))
        answer = fetching_client.post(URL, json=report, headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        assert server.requests == ["/moved", "/real.pdf"] and len(files_of(session, "URL-2")) == 1


class TestFailures:
    def error_of(self, client: TestClient, secret: str, location: str, local_id: str = "URL-F") -> str:
        answer = client.post(
            URL, json=programme_report(local_id, report_files=by_url(location)), headers=bearer(secret)
        )
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        outcome = answer.json()["reports"][0]
        assert outcome["submission_status"] == "rejected" and list(outcome["errors"]) == [
            "report_files[0].original_location"
        ]
        return str(outcome["errors"]["report_files[0].original_location"][0])

    def test_each_network_failure_is_a_field_error_and_nothing_is_written(
        self, fetching_client: TestClient, world: World, session: Session, server: LocalHTTPS, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        origin = server.origin
        server.trickle("/slow.pdf", "x" * 40, every=0.2)  # about 8 s in all
        server.serve("/loop", "", 302, Location="/loop")
        server.serve("/big.pdf", b"%PDF-" + b"0" * documents.MAX_DOCUMENT_BYTES)
        server.serve("/big-unannounced.pdf", b"%PDF-" + b"0" * documents.MAX_DOCUMENT_BYTES, send_length=False)
        server.serve("/page.pdf", "<html>a web page, not a report</html>")
        started = time.monotonic()
        assert "did not send the document within 1.5 seconds" in self.error_of(
            fetching_client, secret, f"{origin}/slow.pdf"
        )
        assert time.monotonic() - started < 1.5 + 1.5
        assert "answered HTTP 404" in self.error_of(fetching_client, secret, f"{origin}/missing.pdf")
        assert "redirects more than 5 times" in self.error_of(fetching_client, secret, f"{origin}/loop")
        assert f"larger than {documents.MAX_DOCUMENT_BYTES} bytes" in self.error_of(
            fetching_client, secret, f"{origin}/big.pdf"
        )
        assert f"larger than {documents.MAX_DOCUMENT_BYTES} bytes" in self.error_of(
            fetching_client, secret, f"{origin}/big-unannounced.pdf"
        )
        assert "not a PDF" in self.error_of(fetching_client, secret, f"{origin}/page.pdf")
        port = free_port(range(8300, 8400))
        assert f"refused the connection on port {port}" in self.error_of(
            fetching_client, secret, f"https://127.0.0.1:{port}/r.pdf"
        )
        assert "only https:// addresses" in self.error_of(fetching_client, secret, f"http://127.0.0.1:{server.port}/r")
        assert "does not resolve" in self.error_of(fetching_client, secret, "https://reports.invalid/r.pdf")
        assert "no valid port" in self.error_of(fetching_client, secret, "https://127.0.0.1:99999/r.pdf")
        assert files_of(session, "URL-F") == []

    def test_a_private_address_is_refused_unless_the_deployment_allows_it(
        self, settings: Settings, connection: Connection, world: World, session: Session, server: LocalHTTPS,
        institution: int,
    ) -> None:  # fmt: skip
        strict = reaching(settings, server, allow_private_fetch=False)
        server.serve("/r.pdf", PDF)
        secret = make_token(session, world.agency_a)
        with TestClient(create_app(strict, bind=connection), base_url="http://registry.test") as client:
            message = self.error_of(client, secret, f"{server.origin}/r.pdf")
        assert "127.0.0.1, which is not a public address" in message and server.requests == []

    def test_in_all_or_nothing_mode_one_unfetchable_file_saves_nothing(
        self, fetching_client: TestClient, world: World, session: Session, server: LocalHTTPS, institution: int
    ) -> None:
        server.serve("/good.pdf", PDF)
        header = "agency,local_identifier,activity,status,decision,valid_from,institution[1].eter_id,"
        header += "file[1].original_location"
        start = "AAA,{},institutional audit,voluntary,positive,2024-01-01,DE0140,{}"
        rows = [
            start.format("CSV-URL-1", f"{server.origin}/good.pdf"),
            start.format("CSV-URL-2", f"{server.origin}/gone.pdf"),
        ]
        content = "\n".join([header, *rows]).encode()
        secret = make_token(session, world.agency_a)
        answer = fetching_client.post(f"{CSV_URL}?mode=all-or-nothing", content=content, headers=bearer(secret))
        assert answer.status_code == 400
        body = answer.json()
        assert body["rows"][0]["submission_status"] == "not saved (all-or-nothing)"
        assert not body["saved"] and body["rows"][1]["errors"] == {
            "report_files[0].original_location": [
                f"the report file could not be fetched: {server.origin}/gone.pdf answered HTTP 404"
            ]
        }
        assert session.exec(select(QAResult).where(QAResult.local_id == "CSV-URL-1")).first() is None
        assert session.exec(select(QAReportFile)).all() == []
        # Row by row, the good row is saved with its file.
        answer = fetching_client.post(CSV_URL, content=content, headers=bearer(secret))
        assert answer.json()["counts"] == {"created": 1, "rejected": 1}, answer.text
        assert len(files_of(session, "CSV-URL-1")) == 1

    def test_the_upload_budget_and_the_count_and_size_limits(
        self, settings: Settings, server: LocalHTTPS, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tight = reaching(settings, server, report_fetch_seconds=1.0, report_fetch_budget_seconds=1.0)
        server.trickle("/slow.pdf", "x" * 40, every=0.2)
        with fetching.ReportFetches(tight) as fetches:
            fetches.fetch_all([f"{server.origin}/slow.pdf", f"{server.origin}/slow.pdf?2"])
            assert "within 1 seconds" in str(fetches.get(f"{server.origin}/slow.pdf").error)
            assert "seconds for fetching report files were spent" in str(
                fetches.get(f"{server.origin}/slow.pdf?2").error
            )
        monkeypatch.setattr(fetching, "MAX_BYTES_PER_UPLOAD", len(PDF) + 10)
        with fetching.ReportFetches(reaching(settings, server)) as fetches:
            for name in "abc":
                server.serve(f"/{name}.pdf", PDF)
            fetches.fetch_all(f"{server.origin}/{name}.pdf" for name in "abc")
            assert fetches.get(f"{server.origin}/a.pdf").read() == PDF
            # 10 bytes were left for the second file; then the upload's bytes are spent.
            assert "larger than 10 bytes" in str(fetches.get(f"{server.origin}/b.pdf").error)
        monkeypatch.setattr(fetching, "MAX_BYTES_PER_UPLOAD", len(PDF))
        with fetching.ReportFetches(reaching(settings, server)) as fetches:
            for name in "ab":
                server.serve(f"/{name}.pdf", PDF)
            fetches.fetch_all(f"{server.origin}/{name}.pdf" for name in "ab")
            assert fetches.get(f"{server.origin}/a.pdf").read() == PDF
            assert "this upload's report files reached" in str(fetches.get(f"{server.origin}/b.pdf").error)
            assert server.requests == ["/a.pdf"]
        monkeypatch.undo()
        many = [f"https://reports.invalid/{n}.pdf" for n in range(fetching.MAX_FETCHES_PER_UPLOAD + 1)]
        with fetching.ReportFetches(tight) as fetches:
            fetches.fetch_all(many)
            assert "at most 100 report files by URL" in str(fetches.get(many[-1]).error)
            assert "does not resolve" in str(fetches.get(many[0]).error)


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file of its own: the test needs real transactions, committed and concurrent."""
    url = f"sqlite:///{tmp_path / 'fetch.db'}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        session.commit()
    yield engine
    engine.dispose()


def test_other_writes_proceed_while_a_report_file_is_fetched(
    file_engine: Engine, settings: Settings, server: LocalHTTPS, tmp_path: Path
) -> None:
    configured = reaching(settings, server, database_url=str(file_engine.url), report_fetch_seconds=5.0)
    db = Database(file_engine)
    with db.write() as session:
        agency = create_agency(session, name="Agency Alpha", acronym="AAA", country="DE", actor=f.TEST)
        add_registration(session, agency, registered_from="2000-01-01", actor=f.TEST)
        provider = f.provider(session, identifiers=[{"scheme": "eter", "value": "DE0140"}])
        secret = make_token(session, agency.id or 0)
    server.trickle("/slow.pdf", "x" * 100, every=0.02)  # about 2.5 s, then not a PDF
    answers: list[Any] = []
    with TestClient(create_app(configured, bind=file_engine), base_url="http://registry.test") as client:

        def submit() -> None:
            report = programme_report("URL-SLOW", report_files=by_url(f"{server.origin}/slow.pdf"))
            answers.append(client.post(URL, json=report, headers=bearer(secret)))

        sending = threading.Thread(target=submit)
        sending.start()
        time.sleep(0.7)
        assert server.requests == ["/slow.pdf"]  # the fetch is waiting on the server now
        started = time.monotonic()
        with db.write() as session:
            other = session.get(type(provider), provider.id)
            assert other is not None
            other.website = "https://learn.test/"
            session.add(other)
        waited = time.monotonic() - started
        assert sending.is_alive(), "the write had to wait for the fetch"
        assert waited < 0.5
        sending.join(timeout=15)
    (answer,) = answers
    assert answer.status_code == 400
    assert "not a PDF" in answer.json()["reports"][0]["errors"]["report_files[0].original_location"][0]
