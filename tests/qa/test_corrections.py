"""Correcting QA records: late revocations refused, report files withdrawn, EQAR windows edited and removed."""

from __future__ import annotations

import datetime as dt
import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.agencies.models import AgencyRegistration
from registry.audit.models import AuditEvent
from registry.qa.models import QAReportFile
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import World, pdf_document

ALPHA = "did:web:alpha-test.example"
PDF = pdf_document()


def _status(client: TestClient) -> str:
    return str(client.get("/api/v1/trust", params={"identifier": ALPHA}).json()["status"])


def _report_url(client: TestClient) -> str | None:
    basis = client.get("/api/v1/trust", params={"identifier": ALPHA}).json()["basis"]
    return basis[0]["report_url"] if basis else None


class TestRevocation:
    def test_a_revocation_after_the_result_ended_is_refused_next_to_the_field(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        late = (today() + dt.timedelta(days=400)).isoformat()
        response = post_form(client, f"/staff/results/{world.result_r}/revoke", {"revoked_from": late})
        assert response.status_code == 400
        assert re.search(r'id="e-revoked_from">the result already ended on', response.text)
        assert _status(client) == "trusted"

    def test_the_reason_to_withdraw_is_marked_required(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        page = client.get(f"/staff/results/{world.result_r}/withdraw").text
        assert re.search(r'Reason <span class="required-marker" aria-hidden="true">\*</span>', page)
        assert re.search(r'<textarea id="f-reason" name="reason" rows="4" required', page)


class TestReportFiles:
    def test_a_withdrawn_report_file_is_no_longer_offered_and_stays_in_the_history(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        token = client.cookies.get("registry_csrf")
        uploaded = client.post(
            f"/staff/results/{world.result_r}/reports",
            files={"file": ("wrong-report.pdf", PDF, "application/pdf")},
            data={"_csrf_token": token},
            follow_redirects=False,
        )
        assert uploaded.status_code == 303
        report = session.exec(select(QAReportFile).where(QAReportFile.result_id == world.result_r)).one()
        assert _report_url(client) is not None and _report_url(client).endswith(f"/reports/{report.id}")  # type: ignore[union-attr]
        path = f"/staff/results/{world.result_r}/reports/{report.id}/withdraw"
        refused = post_form(client, path, {"reason": ""})
        assert refused.status_code == 400 and 'id="e-reason"' in refused.text

        response = post_form(client, path, {"reason": "the report of another provider"})
        assert response.status_code == 303
        listing = client.get(response.headers["location"]).text
        assert "Report file wrong-report.pdf withdrawn." in listing
        assert "<strong>withdrawn</strong>" in listing and "the report of another provider" in listing
        assert client.get(f"/reports/{report.id}").status_code == 404
        # The verdict no longer sends verifiers to it.
        assert _report_url(client) is None
        session.refresh(report)
        assert report.withdrawn_at is not None
        assert session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "result.report_file_withdraw", AuditEvent.entity_id == report.id
            )
        ).first()

    def test_another_agency_cannot_withdraw_it(self, client: TestClient, world: World, session: Session) -> None:
        report = QAReportFile(
            result_id=world.result_r,
            filename="r.pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            storage_path="x",
        )
        session.add(report)
        session.commit()
        sign_in(client, world.emails["editor_b"])
        path = f"/staff/results/{world.result_r}/reports/{report.id}/withdraw"
        assert post_form(client, path, {"reason": "not mine"}).status_code == 403


class TestRegistrationWindows:
    def _window(self, session: Session, agency_id: int) -> AgencyRegistration:
        return session.exec(select(AgencyRegistration).where(AgencyRegistration.agency_id == agency_id)).one()

    def test_an_overlapping_window_is_refused_next_to_the_field(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        response = post_form(
            client,
            f"/staff/agencies/{world.agency_a}/registrations",
            {"registered_from": today().isoformat(), "registered_to": ""},
        )
        assert response.status_code == 400
        assert re.search(r'id="e-registered_from">overlaps the window', response.text)

    def test_a_window_is_corrected_and_verdicts_follow(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        window = self._window(session, world.agency_a)
        path = f"/staff/agencies/{world.agency_a}/registrations/{window.id}"
        assert client.get(path).status_code == 200
        # Registered only from today: the result (from a year ago) was not by a registered agency.
        response = post_form(client, path, {"registered_from": today().isoformat(), "registered_to": ""})
        assert response.status_code == 303
        assert "Registration window saved." in client.get(response.headers["location"]).text
        assert _status(client) == "not_trusted"
        back = (today() - dt.timedelta(days=3650)).isoformat()
        assert post_form(client, path, {"registered_from": back, "registered_to": ""}).status_code == 303
        assert _status(client) == "trusted"

    def test_a_removed_window_counts_for_no_result_and_stays_listed(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        window = self._window(session, world.agency_a)
        path = f"/staff/agencies/{world.agency_a}/registrations/{window.id}/withdraw"
        refused = post_form(client, path, {"reason": ""})
        assert refused.status_code == 400 and 'id="e-reason">this field is required' in refused.text
        response = post_form(client, path, {"reason": "entered for the wrong agency"})
        assert response.status_code == 303
        assert _status(client) == "not_trusted"
        page = client.get(response.headers["location"]).text
        assert "<strong>removed</strong>: entered for the wrong agency" in page
        # A removed window no longer blocks a correct one.
        again = post_form(
            client,
            f"/staff/agencies/{world.agency_a}/registrations",
            {"registered_from": (today() - dt.timedelta(days=3000)).isoformat()},
        )
        assert again.status_code == 303
        assert _status(client) == "trusted"
