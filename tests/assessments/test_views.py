"""The self-assessment screens, through the real forms: draft, submit, return, revise, accept."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.assessments.models import SelfAssessment
from registry.reference.services import esg_part
from tests.conftest import post_form, sign_in
from tests.factories import World, pdf_document

HTML = {"accept": "text/html"}
PDF = pdf_document()


def _answers(session: Session, skip: tuple[str, ...] = ()) -> dict[str, str]:
    answers: dict[str, str] = {}
    for standard in esg_part(session, 1):
        if standard.code in skip:
            continue
        answers[f"{standard.code}.rating"] = "compliant"
        answers[f"{standard.code}.narrative"] = f"Our practice for {standard.title}."
        answers[f"{standard.code}.evidence_links"] = f"https://alpha.example/qa/{standard.code}"
    return answers


def _latest(session: Session, provider_id: int) -> SelfAssessment:
    session.expire_all()
    return session.exec(
        select(SelfAssessment)
        .where(SelfAssessment.provider_id == provider_id)
        .order_by(SelfAssessment.version_number.desc())  # type: ignore[attr-defined]
    ).first()  # type: ignore[return-value]


def _start(client: TestClient, world: World, session: Session) -> SelfAssessment:
    response = post_form(client, f"/staff/providers/{world.provider_p}/self-assessment", {})
    assert response.status_code == 303, response.text[:300]
    return _latest(session, world.provider_p)


class TestProviderStaff:
    def test_an_incomplete_submission_names_each_missing_standard_and_keeps_what_was_typed(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        form = {**_answers(session, skip=("1.9",)), "version": str(draft.version), "action": "submit"}
        response = post_form(client, f"/staff/self-assessments/{draft.id}", form, headers=HTML)
        assert response.status_code == 400
        assert re.search(r'id="e-1\.9\.rating">rate standard 1\.9', response.text)
        assert 'id="e-1.9.narrative"' in response.text
        assert "Our practice for Policy for quality assurance." in response.text
        assert _latest(session, world.provider_p).state == "draft"

    def test_the_whole_path_from_draft_to_accepted_changes_the_verdict(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        saved = post_form(
            client,
            f"/staff/self-assessments/{draft.id}",
            {**_answers(session), "version": str(draft.version), "action": "submit"},
        )
        assert saved.status_code == 303
        assert _latest(session, world.provider_p).state == "submitted"

        reviewer = TestClient(client.app, base_url="http://registry.test")
        with reviewer:
            sign_in(reviewer, world.emails["reviewer_a"])
            dashboard = reviewer.get("/staff", headers=HTML)
            assert f'href="/staff/self-assessments/{draft.id}"' in dashboard.text
            submitted = _latest(session, world.provider_p)
            returned = post_form(
                reviewer,
                f"/staff/self-assessments/{draft.id}/review",
                {"decision": "return", "1.9.comment": "Add the review calendar.", "version": str(submitted.version)},
            )
            assert returned.status_code == 303
            assert _latest(session, world.provider_p).state == "returned"

            page = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML)
            assert "Add the review calendar." in page.text
            second = _start(client, world, session)
            assert second.version_number == draft.version_number + 1
            revised = {**_answers(session), "1.9.narrative": "Programmes are reviewed every five years."}
            post_form(
                client,
                f"/staff/self-assessments/{second.id}",
                {**revised, "version": str(second.version), "action": "submit"},
            )
            compare = client.get(
                "/staff/self-assessments/compare", params={"first": draft.id, "second": second.id}, headers=HTML
            )
            assert "Programmes are reviewed every five years." in compare.text

            before = client.get("/api/v1/trust", params={"identifier": "did:web:alpha-test.example"}).json()
            decision = {"decision": "accept", "version": str(_latest(session, world.provider_p).version)}
            asked = post_form(reviewer, f"/staff/self-assessments/{second.id}/review", decision, headers=HTML)
            # Accepting asks once more before it changes the verdict.
            assert asked.status_code == 200 and "Yes, accept version 2" in asked.text
            assert _latest(session, world.provider_p).state == "submitted"
            accepted = post_form(
                reviewer, f"/staff/self-assessments/{second.id}/review", {**decision, "confirmed": "yes"}
            )
            assert accepted.status_code == 303
        assert _latest(session, world.provider_p).state == "accepted"
        after = client.get("/api/v1/trust", params={"identifier": "did:web:alpha-test.example"}).json()
        assert before["internal_qa"]["status"] == "submitted"
        assert after["internal_qa"]["status"] == "accepted"

    def test_evidence_files_reach_the_provider_and_its_reviewers_only(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        page = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        uploaded = client.post(
            f"/staff/self-assessments/{draft.id}/evidence",
            data={"_csrf_token": token.group(1), "standard_code": "1.1"},
            files={"file": ("policy.pdf", PDF, "application/pdf")},
            follow_redirects=False,
        )
        assert uploaded.status_code == 303
        link = re.search(
            r'href="(/staff/evidence/\d+)">policy\.pdf',
            client.get(f"/staff/self-assessments/{draft.id}", headers=HTML).text,
        )
        assert link is not None
        download = client.get(link.group(1))
        assert download.content == PDF
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-security-policy"].startswith("sandbox;")
        for role, expected in (("reviewer_a", 200), ("editor_b", 403)):
            with TestClient(client.app, base_url="http://registry.test") as other:
                sign_in(other, world.emails[role])
                assert other.get(link.group(1)).status_code == expected, role


class TestWhoSeesWhat:
    def test_agencies_that_do_not_review_the_provider_are_refused(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_b"])
        assert client.get(f"/staff/providers/{world.provider_p}/self-assessment", headers=HTML).status_code == 403

    def test_only_the_providers_staff_start_or_write_it(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["reviewer_a"])
        assert client.get(f"/staff/providers/{world.provider_p}/self-assessment", headers=HTML).status_code == 200
        refused = post_form(client, f"/staff/providers/{world.provider_p}/self-assessment", {}, headers=HTML)
        assert refused.status_code == 403

    def test_provider_staff_cannot_review_their_own(self, session: Session, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        post_form(
            client,
            f"/staff/self-assessments/{draft.id}",
            {**_answers(session), "version": str(draft.version), "action": "submit"},
        )
        submitted = _latest(session, world.provider_p)
        response = post_form(
            client,
            f"/staff/self-assessments/{draft.id}/review",
            {"decision": "accept", "version": str(submitted.version)},
            headers=HTML,
        )
        assert response.status_code == 403
        assert _latest(session, world.provider_p).state == "submitted"


def _flash(html: str) -> str:
    found = re.search(r'<div class="flash" role="status" aria-live="polite">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


def _textarea(html: str, name: str) -> str:
    found = re.search(rf'<textarea id="f-{re.escape(name)}" name="{re.escape(name)}"[^>]*>([^<]*)</textarea>', html)
    return found.group(1) if found else ""


class TestNothingTypedIsLost:
    def _upload(self, client: TestClient, draft_id: int, fields: dict[str, str], content: bytes) -> object:
        page = client.get(f"/staff/self-assessments/{draft_id}", headers=HTML)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        return client.post(
            f"/staff/self-assessments/{draft_id}/evidence",
            data={"_csrf_token": token.group(1), **fields},
            files={"file": ("evidence.pdf", content, "application/pdf")},
            headers=HTML,
            follow_redirects=False,
        )

    def test_an_upload_saves_the_answers_typed_with_it(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        typed = {"version": str(draft.version), "1.1.narrative": "Typed, then a file was chosen."}
        response = self._upload(client, draft.id or 0, typed, PDF)
        assert response.status_code == 303  # type: ignore[attr-defined]
        page = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML).text
        assert _flash(page) == "Evidence file evidence.pdf uploaded. Your answers were saved too."
        assert _textarea(page, "1.1.narrative") == "Typed, then a file was chosen."

    def test_a_refused_upload_keeps_the_answers_and_says_why_next_to_the_file(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        typed = {"version": str(draft.version), "1.2.narrative": "Written before a wrong file."}
        response = self._upload(client, draft.id or 0, typed, b"not a document")
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert 'id="e-file"' in response.text  # type: ignore[attr-defined]
        assert _textarea(response.text, "1.2.narrative") == "Written before a wrong file."  # type: ignore[attr-defined]
        again = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML).text
        assert _textarea(again, "1.2.narrative") == "Written before a wrong file."

    def test_a_refused_submit_saves_the_draft(self, session: Session, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        form = {"1.3.narrative": "Saved although incomplete.", "version": str(draft.version), "action": "submit"}
        response = post_form(client, f"/staff/self-assessments/{draft.id}", form, headers=HTML)
        assert response.status_code == 400
        assert "Your answers are saved in the draft; it was not submitted." in response.text
        # The form carries the saved version, so saving again is no conflict.
        version = re.search(r'name="version" value="(\d+)"', response.text)
        assert version is not None and int(version.group(1)) == _latest(session, world.provider_p).version
        page = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML).text
        assert _textarea(page, "1.3.narrative") == "Saved although incomplete."

    def test_a_bad_evidence_link_is_reported_next_to_its_box(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        form = {"1.10.evidence_links": "https://ok.example\nnot a link", "version": str(draft.version)}
        response = post_form(client, f"/staff/self-assessments/{draft.id}", form, headers=HTML)
        assert response.status_code == 400
        assert re.search(
            r'id="e-1\.10\.evidence_links">line 2: &#39;not a link&#39; is not a web address', response.text
        )
        assert 'href="#f-1.10.evidence_links"' in response.text

    def test_evidence_is_withdrawn_from_the_draft_and_kept(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        self._upload(client, draft.id or 0, {}, PDF)
        page = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML).text
        link = re.search(r'href="(/staff/evidence/\d+/withdraw)">Withdraw evidence.pdf', page)
        assert link is not None
        refused = post_form(client, link.group(1), {"reason": ""}, headers=HTML)
        assert refused.status_code == 400 and 'id="e-reason"' in refused.text
        done = post_form(client, link.group(1), {"reason": "the wrong year's report"})
        assert done.status_code == 303
        page = client.get(done.headers["location"], headers=HTML).text
        assert "<strong>withdrawn</strong>: the wrong year&#39;s report" in page
        assert _flash(page) == "Evidence file evidence.pdf withdrawn."


class TestTheReturnLoop:
    def test_the_provider_is_told_and_revises_with_the_comments_in_view(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        from registry.mail.models import OutboxMessage

        sign_in(client, world.emails["staff_p"])
        draft = _start(client, world, session)
        post_form(
            client,
            f"/staff/self-assessments/{draft.id}",
            {**_answers(session), "version": str(draft.version), "action": "submit"},
        )
        with TestClient(client.app, base_url="http://registry.test") as reviewer:
            sign_in(reviewer, world.emails["reviewer_a"])
            waiting = reviewer.get("/staff/self-assessments/", headers=HTML).text
            assert f'href="/staff/self-assessments/{draft.id}">Review version 1 of Alpha Test University' in waiting
            returned = post_form(
                reviewer,
                f"/staff/self-assessments/{draft.id}/review",
                {
                    "decision": "return",
                    "comment": "Nearly there.",
                    "1.9.comment": "Add the review calendar.",
                    "version": str(_latest(session, world.provider_p).version),
                },
            )
            assert returned.status_code == 303
            assert "Nothing is waiting for review." in reviewer.get("/staff/self-assessments/", headers=HTML).text
        mail = session.exec(
            select(OutboxMessage).where(OutboxMessage.cause == f"self_assessment_returned:{draft.id}")
        ).one()
        assert mail.to == world.emails["staff_p"]
        assert "Standard 1.9: Add the review calendar." in mail.text and "Overall: Nearly there." in mail.text

        dashboard = client.get("/staff", headers=HTML).text
        assert "The agency returned version 1 with comments" in dashboard
        returned_page = client.get(f"/staff/self-assessments/{draft.id}", headers=HTML).text
        assert "Start a new version</button>" in returned_page
        second = _start(client, world, session)
        new_draft = client.get(f"/staff/self-assessments/{second.id}", headers=HTML).text
        assert "What the agency asked for in version 1" in new_draft
        assert "1.9: Add the review calendar." in new_draft and "Nearly there." in new_draft

    def test_only_reviewers_and_operators_have_the_waiting_list(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        assert client.get("/staff/self-assessments/", headers=HTML).status_code == 403
