"""The submission API as an agency's system uses it: bearer tokens, DEQAR's example reports, idempotency."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, col, select

from registry.audit.models import AuditEvent
from registry.audit.services import Actor
from registry.qa.models import QAReportFile, QAResult, QAResultProgramme
from registry.submissions import tokens
from registry.submissions.models import ApiToken, SubmissionWarning
from registry.timeutil import utcnow
from tests import factories as f
from tests.factories import World

URL = "/api/v1/submissions/results"
SETUP = Actor("test")


def make_token(session: Session, agency_id: int, scopes: tuple[str, ...] = ("results:submit",)) -> str:
    expires = (utcnow() + dt.timedelta(days=30)).date().isoformat()
    _, secret = tokens.create_token(
        session, agency_id=agency_id, name="export", expires_on=expires, scopes=list(scopes), actor=SETUP
    )
    session.flush()
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def institution(session: Session) -> int:
    provider = f.provider(
        session,
        identifiers=[{"scheme": "deqar", "value": "DEQARINST0034"}, {"scheme": "eter", "value": "DE0140"}],
    )
    return provider.id or 0


def programme_report(local_identifier: str = "PCC-June08", **changes: Any) -> dict[str, Any]:
    """DEQAR's own programme.json example, with the demo agency and identifiers."""
    report = {
        "agency": "AAA",
        "local_identifier": local_identifier,
        "activity": "programme review",
        "status": "part of obligatory EQA system",
        "decision": "positive",
        "valid_from": "2020-06-26",
        "valid_to": "2025-01-15",
        "date_format": "%Y-%m-%d",
        "report_links": [{"link": "https://aaa.example/reports/pcc.pdf", "link_display_name": "Report"}],
        "institutions": [{"eter_id": "DE0140"}],
        "programmes": [
            {
                "identifiers": [{"identifier": "16"}],
                "name_primary": "Master of Arts OrganExpert",
                "qualification_primary": "Master",
                "nqf_level": "level 7",
                "qf_ehea_level": "second cycle",
            }
        ],
    }
    report.update(changes)
    return report


class TestTokens:
    def test_a_missing_unknown_revoked_or_expired_token_answers_401(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a)
        answers = [
            client.post(URL, json=programme_report()),
            client.post(URL, json=programme_report(), headers=bearer("qareg_not-a-token")),
        ]
        token = session.exec(select(ApiToken)).one()
        tokens.revoke_token(session, token, actor=SETUP)
        session.flush()
        answers.append(client.post(URL, json=programme_report(), headers=bearer(secret)))
        expired = make_token(session, world.agency_a)
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == tokens.hash_secret(expired))).one()
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        session.add(row)
        session.flush()
        answers.append(client.post(URL, json=programme_report(), headers=bearer(expired)))
        for answer in answers:
            assert answer.status_code == 401, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "revoked" in answers[2].json()["detail"] and "expired" in answers[3].json()["detail"]
        assert session.exec(select(QAResult).where(QAResult.local_id == "PCC-June08")).first() is None

    def test_the_token_is_checked_before_the_body_is_read(self, client: TestClient, world: World) -> None:
        json_type = {"content-type": "application/json"}
        bodies = [b'{"agency": ', b"[" * 100_000 + b"]" * 100_000, b'{"agency": "AAA\\u0000"}']
        for body in bodies:
            for headers in ({}, bearer("qareg_not-a-token")):
                answer = client.post(URL, content=body, headers={**json_type, **headers})
                assert answer.status_code == 401, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.headers["www-authenticate"].startswith("Bearer")
        csv_answer = client.post(f"{URL}.csv", content=b"\xff\xfe not a csv", headers={"content-type": "text/csv"})
        assert csv_answer.status_code == 401

    def test_a_token_without_the_scope_or_for_another_agency_answers_403(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        reader = make_token(session, world.agency_a, ("results:read",))
        answer = client.post(URL, json=programme_report(), headers=bearer(reader))
        assert answer.status_code == 403 and "results:submit" in answer.json()["detail"]
        other = make_token(session, world.agency_b)
        answer = client.post(URL, json=programme_report(), headers=bearer(other))
        assert answer.status_code == 403 and "BBB only" in answer.json()["detail"]
        assert session.exec(select(QAResult).where(QAResult.local_id == "PCC-June08")).first() is None

    def test_only_the_hash_is_stored_and_use_is_noted(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        assert secret.startswith("qareg_") and len(secret) > 40
        row = session.exec(select(ApiToken)).one()
        assert row.token_hash == tokens.hash_secret(secret) and secret not in str(row.model_dump())
        assert row.last_used_at is None
        assert client.post(URL, json=programme_report(), headers=bearer(secret)).status_code == 200
        session.expire_all()
        used = session.get(ApiToken, row.id)
        assert used is not None and used.last_used_at is not None


class TestSubmission:
    def test_deqar_example_is_created_then_unchanged_then_updated(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        first = client.post(URL, json=[programme_report()], headers=bearer(secret))
        assert first.status_code == 200, first.text
        answer = first.json()["reports"][0]
        assert answer["submission_status"] == "created" and answer["errors"] == {}
        result = session.get(QAResult, answer["result_id"])
        assert result is not None and result.activity_type == "programme"
        assert result.status == "part of obligatory external QA system"
        assert result.valid_to == dt.date(2025, 1, 15)
        programme = session.exec(select(QAResultProgramme).where(QAResultProgramme.result_id == result.id)).one()
        assert (programme.name, programme.eqf_level, programme.identifier) == ("Master of Arts OrganExpert", 7, "16")
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "result.record").order_by(col(AuditEvent.id).desc())
        ).first()
        assert event is not None and event.actor_label.startswith("api token") and "for AAA" in event.actor_label

        again = client.post(URL, json=programme_report(), headers=bearer(secret)).json()["reports"][0]
        assert again == {**answer, "submission_status": "unchanged"}
        assert len(session.exec(select(QAResult).where(QAResult.local_id == "PCC-June08")).all()) == 1

        changed = client.post(
            URL, json=programme_report(decision="positive with conditions or restrictions"), headers=bearer(secret)
        ).json()["reports"][0]
        assert changed["submission_status"] == "updated" and changed["result_id"] == answer["result_id"]
        update = session.exec(select(AuditEvent).where(AuditEvent.action == "result.update")).one()
        assert update.before is not None and update.after is not None
        assert update.before["decision"] == "positive"
        assert update.after["decision"] == "positive with conditions or restrictions"

    def test_dry_run_validates_without_writing(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        answer = client.post(f"{URL}?dry_run=true", json=programme_report(), headers=bearer(secret))
        assert answer.status_code == 200 and answer.json()["reports"][0]["submission_status"] == "created"
        assert session.exec(select(QAResult).where(QAResult.local_id == "PCC-June08")).first() is None

    def test_bad_reports_are_rejected_field_by_field_and_the_good_one_kept(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        bad = programme_report(
            "BAD-1",
            status="sometimes",
            valid_from="26/06/2020",
            institutions=[{"deqar_id": "DEQARINST9999"}, {"identifiers": [{"identifier": "X1", "resource": "ror"}]}],
            colour="blue",
        )
        answer = client.post(URL, json=[programme_report("GOOD-1"), bad], headers=bearer(secret))
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"] == "1 of 2 reports were rejected; the others were saved."
        good, rejected = answer.json()["reports"]
        assert good["submission_status"] == "created"
        assert rejected["submission_status"] == "rejected" and rejected["result_id"] is None
        errors = rejected["errors"]
        assert "does not match the date format" in errors["valid_from"][0]
        assert "voluntary" in errors["status"][0]
        assert "deqar DEQARINST9999" in errors["institutions[0]"][0]
        assert "ror X1" in errors["institutions[1]"][0]
        assert "not part of the submission layout" in errors["colour"][0]
        assert session.exec(select(QAResult).where(QAResult.local_id == "BAD-1")).first() is None
        assert session.exec(select(QAResult).where(QAResult.local_id == "GOOD-1")).first() is not None

    def test_odd_shapes_and_far_dates_are_field_errors_not_failures(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        odd = programme_report(
            "ODD-1",
            valid_from="9999-12-31",
            limit_eqf_levels=7,
            contributing_agencies="BBB",
            programmes=[{"name_primary": "X", "qf_ehea_level": "   "}],
        )
        answer = client.post(URL, json=odd, headers=bearer(secret))
        assert answer.status_code == 400
        assert answer.json()["detail"] == "1 of 1 reports were rejected; nothing was written."
        errors = answer.json()["reports"][0]["errors"]
        assert "out of range" in errors["valid_from"][0]
        assert errors["limit_eqf_levels"] == ["a list is expected"]
        assert errors["contributing_agencies"] == ["a list is expected"]

    def test_warnings_are_answered_and_recorded(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        report = programme_report(
            "LONG-1",
            valid_from="01.01.1990",
            valid_to="01.01.2000",
            date_format="%d.%m.%Y",
            programmes=[{"name_primary": "Certificate in Welding"}],
        )
        answer = client.post(URL, json=report, headers=bearer(secret)).json()["reports"][0]
        assert answer["submission_status"] == "created"
        joined = " | ".join(answer["warnings"])
        assert "longer than six years" in joined and "not registered on EQAR on 1990-01-01" in joined
        assert "has no EQF level" in joined
        stored = session.exec(select(SubmissionWarning).where(SubmissionWarning.result_id == answer["result_id"])).all()
        assert sorted(w.message for w in stored) == sorted(answer["warnings"])

    def test_a_base64_report_file_is_checked_like_an_upload(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        pdf = base64.b64encode(f.pdf_document()).decode()
        files = [{"file": pdf, "file_original_filename": "report.pdf"}]
        answer = client.post(URL, json=programme_report("F-1", report_files=files), headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        result_id = answer.json()["reports"][0]["result_id"]
        assert session.exec(select(QAReportFile).where(QAReportFile.result_id == result_id)).one().size > 0
        fake = [{"file": base64.b64encode(b"<html>not a pdf</html>").decode(), "file_original_filename": "r.pdf"}]
        refused = client.post(URL, json=programme_report("F-2", report_files=fake), headers=bearer(secret))
        assert refused.status_code == 400 and "report_files[0].file" in refused.json()["reports"][0]["errors"]
        # A file by URL is fetched (tests/submissions/test_report_fetch.py); one that cannot be is a field error.
        by_url = [{"original_location": "https://aaa.invalid/r.pdf", "display_name": "Report"}]
        unfetched = client.post(URL, json=programme_report("F-3", report_files=by_url), headers=bearer(secret))
        answer = unfetched.json()["reports"][0]
        assert unfetched.status_code == 400 and answer["submission_status"] == "rejected"
        assert "does not resolve" in answer["errors"]["report_files[0].original_location"][0]
        assert session.exec(select(QAResult).where(QAResult.local_id == "F-3")).first() is None
        again = client.post(URL, json=programme_report("F-1", report_files=files), headers=bearer(secret)).json()
        assert again["reports"][0]["submission_status"] == "unchanged"
        assert len(session.exec(select(QAReportFile).where(QAReportFile.result_id == result_id)).all()) == 1

    def test_a_read_token_reads_its_agencys_reports_only(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        writer = make_token(session, world.agency_a)
        reader = make_token(session, world.agency_a, ("results:read",))
        client.post(URL, json=programme_report(programmes=[{"name_primary": "No level"}]), headers=bearer(writer))
        answer = client.get(f"{URL}/PCC-June08/current", headers=bearer(reader))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["result"]["decision"] == "positive" and not body["withdrawn"]
        assert any("has no EQF level" in w for w in body["warnings"])
        assert client.get(f"{URL}/PCC-June08/current", headers=bearer(writer)).status_code == 403
        other = make_token(session, world.agency_b, ("results:read",))
        assert client.get(f"{URL}/PCC-June08/current", headers=bearer(other)).status_code == 404
        assert client.get(f"{URL}/PCC-June08/current").status_code == 401

    def test_delete_withdraws_by_local_identifier(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        result_id = client.post(URL, json=programme_report(), headers=bearer(secret)).json()["reports"][0]["result_id"]
        answer = client.delete(f"{URL}/PCC-June08", headers=bearer(secret))
        assert answer.status_code == 200 and answer.json()["submission_status"] == "withdrawn"
        session.expire_all()
        withdrawn = session.get(QAResult, result_id)
        assert withdrawn is not None and withdrawn.withdrawn_at is not None
        assert client.delete(f"{URL}/PCC-June08", headers=bearer(secret)).status_code == 400
        assert client.delete(f"{URL}/NOPE", headers=bearer(secret)).status_code == 404
        other = make_token(session, world.agency_b)
        assert client.delete(f"{URL}/PCC-June08", headers=bearer(other)).status_code == 404
        resubmitted = client.post(URL, json=programme_report(), headers=bearer(secret)).json()["reports"][0]
        assert (
            resubmitted["submission_status"] == "rejected"
            and "withdrawn" in resubmitted["errors"]["local_identifier"][0]
        )

    def test_malformed_and_oversized_batches_are_refused(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a)
        headers = {**bearer(secret), "content-type": "application/json"}
        malformed = client.post(URL, content=b'{"agency": ', headers=headers)
        assert malformed.status_code == 400
        assert malformed.headers["content-type"].startswith("application/problem+json")
        deep = client.post(URL, content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
        assert deep.status_code == 400 and deep.headers["content-type"].startswith("application/problem+json")
        assert client.post(URL, json=[], headers=bearer(secret)).status_code == 400
        assert client.post(URL, json=["x"] * 501, headers=bearer(secret)).status_code == 400
        answer = client.post(URL, json=["not an object"], headers=bearer(secret))
        assert answer.status_code == 400 and answer.json()["reports"][0]["errors"]["report"]


class TestBadInput:
    def test_duplicate_local_identifiers_in_one_batch_are_refused_on_the_later_report(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        batch = [programme_report("DUP-1"), programme_report("DUP-1", decision="negative")]
        answer = client.post(URL, json=batch, headers=bearer(secret))
        assert answer.status_code == 400
        first, second = answer.json()["reports"]
        assert first["submission_status"] == "created"
        assert second["errors"] == {"local_identifier": ["report 0 of this request has the same local identifier"]}
        stored = session.exec(select(QAResult).where(QAResult.local_id == "DUP-1")).one()
        assert stored.decision == "positive"

    def test_dates_in_another_format_than_date_format_name_the_field(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        report = programme_report("DATE-1", date_format="%d/%m/%Y", valid_from="2020-06-26", valid_to="15/01/2025")
        answer = client.post(URL, json=report, headers=bearer(secret))
        assert answer.status_code == 400
        assert answer.json()["reports"][0]["errors"] == {
            "valid_from": ["'2020-06-26' does not match the date format '%d/%m/%Y'"]
        }
        fixed = client.post(URL, json={**report, "valid_from": "26/06/2020"}, headers=bearer(secret))
        assert fixed.status_code == 200, fixed.text
        stored = session.exec(select(QAResult).where(QAResult.local_id == "DATE-1")).one()
        assert (stored.valid_from, stored.valid_to) == (dt.date(2020, 6, 26), dt.date(2025, 1, 15))

    def test_a_body_over_the_limit_is_413_problem_json(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        from registry.submissions.services import MAX_JSON_BYTES

        secret = make_token(session, world.agency_a)
        body = b'{"summary": "' + b"x" * MAX_JSON_BYTES + b'"}'
        answer = client.post(URL, content=body, headers={**bearer(secret), "content-type": "application/json"})
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_submission_warnings_show_on_the_staff_provider_page(
    client: TestClient, world: World, session: Session, institution: int
) -> None:
    from tests.conftest import sign_in

    secret = make_token(session, world.agency_a)
    report = programme_report("W-1", programmes=[{"name_primary": "Certificate in Welding"}])
    assert client.post(URL, json=report, headers=bearer(secret)).status_code == 200
    sign_in(client, world.emails["editor_a"])
    page = client.get(f"/staff/providers/{institution}")
    assert page.status_code == 200
    assert "Submission warning: programme &#39;Certificate in Welding&#39; has no EQF level" in page.text


def test_the_documented_example_reports_go_in_against_the_demo_data(client: TestClient, session: Session) -> None:
    import json
    from pathlib import Path

    from registry.agencies.services import list_agencies
    from registry.demo.services import load_demo
    from registry.reference.services import load_reference

    load_reference(session)
    load_demo(session)
    dac = next(a for a in list_agencies(session) if a.acronym == "DAC")
    secret = make_token(session, dac.id or 0)
    reports = json.loads((Path(__file__).parents[2] / "examples" / "submissions" / "programme.json").read_text())
    answer = client.post(URL, json=reports, headers=bearer(secret))
    assert answer.status_code == 200, answer.text
    assert [r["submission_status"] for r in answer.json()["reports"]] == ["created", "created"]
    assert (
        client.post(URL, json=reports, headers=bearer(secret)).json()["reports"][1]["submission_status"] == "unchanged"
    )
    second = session.get(QAResult, answer.json()["reports"][1]["result_id"])
    assert second is not None and second.conditions_due == dt.date(2025, 10, 1)
    assert second.valid_from == dt.date(2024, 4, 9)
