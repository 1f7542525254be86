"""Self-assessments: drafts, saving, submitting, agency review, versions and their comparison."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.accounts.models import User
from registry.accounts.services import create_user
from registry.assessments import services as sa
from registry.assessments.models import SelfAssessment
from registry.audit.models import AuditEvent
from registry.deadlines.models import ReviewDeadline
from registry.errors import Conflict, PermissionDenied, ValidationFailed
from registry.providers.models import Provider
from registry.settings import Settings
from registry.trust.models import TrustTimeline
from tests import factories as f

CODES = [f"1.{n}" for n in range(1, 11)]


def complete(session: Session, assessment: SelfAssessment, actor: f.Actor = f.TEST) -> SelfAssessment:
    changes = {code: {"rating": "compliant", "narrative": f"How we meet {code}."} for code in CODES}
    return sa.save_entries(session, assessment, changes, actor, assessment.version)


def user(session: Session, role: str, **scope: int | None) -> User:
    number = next(f._counter)
    return create_user(
        session,
        email=f"user{number}@example.org",
        display_name=f"User {number}",
        password=None,
        role=role,
        actor=f.TEST,
        **scope,
    )


@pytest.fixture
def provider(session: Session) -> Provider:
    made = f.provider(session, identifiers=[{"scheme": "did", "value": "did:web:assessed.example"}])
    return made


@pytest.fixture
def reviewer(session: Session, provider: Provider) -> User:
    agency = f.agency(session)
    f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2099-12-31")
    return user(session, "agency reviewer", agency_id=agency.id)


def submitted(session: Session, provider: Provider) -> SelfAssessment:
    assessment = complete(session, sa.start_draft(session, provider, f.TEST))
    return sa.submit(session, assessment, f.TEST, assessment.version)


class TestDraft:
    def test_first_draft_has_every_part_1_standard_empty(self, session: Session, provider: Provider) -> None:
        assessment = sa.start_draft(session, provider, f.TEST)
        rows = sa.entries(session, assessment)
        assert (assessment.version_number, assessment.state) == (1, "draft")
        assert list(rows) == CODES
        assert all(row.rating is None and row.evidence_links == [] for row in rows.values())

    def test_only_one_open_version_at_a_time(self, session: Session, provider: Provider) -> None:
        sa.start_draft(session, provider, f.TEST)
        with pytest.raises(Conflict, match="still draft"):
            sa.start_draft(session, provider, f.TEST)

    def test_next_version_copies_the_previous_answers_and_keeps_the_old_one(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        first = submitted(session, provider)
        sa.review(
            session,
            first,
            accept=False,
            reviewer_user_id=reviewer.id or 0,
            actor=f.TEST,
            expected_version=first.version,
            settings=settings,
            standard_comments={"1.3": "Say more."},
        )
        second = sa.start_draft(session, provider, f.TEST)
        assert second.version_number == 2
        rows = sa.entries(session, second)
        assert rows["1.3"].narrative == "How we meet 1.3."
        assert rows["1.3"].reviewer_comment is None
        assert [v.state for v in sa.versions(session, provider.id or 0)] == ["returned", "draft"]


class TestSave:
    def test_saves_rating_narrative_and_links(self, session: Session, provider: Provider) -> None:
        assessment = sa.start_draft(session, provider, f.TEST)
        sa.save_entries(
            session,
            assessment,
            {
                "1.2": {
                    "rating": "partially compliant",
                    "narrative": " Programme design. ",
                    "evidence_links": ["https://p.example/policy.pdf"],
                }
            },
            f.TEST,
            1,
        )
        row = sa.entries(session, assessment)["1.2"]
        assert (row.rating, row.narrative, row.evidence_links) == (
            "partially compliant",
            "Programme design.",
            ["https://p.example/policy.pdf"],
        )
        assert assessment.version == 2
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "self_assessment.save")).one()
        assert event.before == {"1.2": {"rating": None, "narrative": None, "evidence_links": []}}
        assert event.after is not None and event.after["1.2"]["rating"] == "partially compliant"

    def test_every_problem_is_reported_by_field(self, session: Session, provider: Provider) -> None:
        assessment = sa.start_draft(session, provider, f.TEST)
        with pytest.raises(ValidationFailed) as caught:
            sa.save_entries(
                session,
                assessment,
                {
                    "1.1": {"rating": "excellent"},
                    "1.2": {"rating": "compliant"},
                    "1.4": {"evidence_links": ["ftp://x.example/a", "https://ok.example"]},
                    "2.1": {"rating": "compliant"},
                    "1.5": {"evidence_links": "https://one.example"},
                },
                f.TEST,
                1,
            )
        assert set(caught.value.errors) == {"1.1.rating", "1.4.evidence_links", "2.1", "1.5.evidence_links"}
        # The form shows one message per links box, naming the line.
        assert caught.value.errors["1.4.evidence_links"].startswith("line 1: 'ftp://x.example/a'")
        assert assessment.version == 1
        assert all(row.rating is None and row.evidence_links == [] for row in sa.entries(session, assessment).values())

    def test_a_stale_version_is_a_conflict(self, session: Session, provider: Provider) -> None:
        assessment = sa.start_draft(session, provider, f.TEST)
        sa.save_entries(session, assessment, {"1.1": {"rating": "compliant"}}, f.TEST, 1)
        with pytest.raises(Conflict, match="changed by someone else"):
            sa.save_entries(session, assessment, {"1.1": {"rating": "non-compliant"}}, f.TEST, 1)
        assert sa.entries(session, assessment)["1.1"].rating == "compliant"

    def test_a_submitted_version_cannot_be_edited(self, session: Session, provider: Provider) -> None:
        assessment = submitted(session, provider)
        with pytest.raises(Conflict, match="Only a draft"):
            sa.save_entries(session, assessment, {"1.1": {"rating": "compliant"}}, f.TEST, assessment.version)


class TestSubmit:
    def test_names_each_missing_rating_and_narrative(self, session: Session, provider: Provider) -> None:
        assessment = sa.start_draft(session, provider, f.TEST)
        changes = {code: {"rating": "compliant", "narrative": "Done."} for code in CODES if code != "1.7"}
        changes["1.9"] = {"rating": "compliant", "narrative": "  "}
        sa.save_entries(session, assessment, changes, f.TEST, 1)
        with pytest.raises(ValidationFailed) as caught:
            sa.submit(session, assessment, f.TEST, assessment.version)
        assert set(caught.value.errors) == {"1.7.rating", "1.7.narrative", "1.9.narrative"}
        assert assessment.state == "draft"

    def test_complete_draft_is_submitted_and_audited(self, session: Session, provider: Provider) -> None:
        assessment = submitted(session, provider)
        assert assessment.state == "submitted" and assessment.submitted_at is not None
        actions = session.exec(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "self_assessment", AuditEvent.entity_id == assessment.id
            )
        ).all()
        assert set(actions) == {"self_assessment.start", "self_assessment.save", "self_assessment.submit"}


class TestReview:
    def test_accept_sets_dates_and_changes_the_verdict_internal_qa(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings, client: TestClient
    ) -> None:
        assessment = submitted(session, provider)
        session.commit()
        before = client.get("/api/v1/trust", params={"identifier": "did:web:assessed.example"}).json()
        assert before["internal_qa"]["status"] == "submitted"
        sa.review(
            session,
            assessment,
            accept=True,
            reviewer_user_id=reviewer.id or 0,
            actor=f.TEST,
            expected_version=assessment.version,
            settings=settings,
            on=dt.date(2024, 2, 29),
        )
        session.commit()
        assert (assessment.accepted_on, assessment.next_due) == (dt.date(2024, 2, 29), dt.date(2027, 2, 28))
        timeline = session.get(TrustTimeline, provider.id)
        assert timeline is not None
        assert timeline.document["internal_qa"]["accepted"] == [{"accepted_on": "2024-02-29", "next_due": "2027-02-28"}]
        after = client.get("/api/v1/trust", params={"identifier": "did:web:assessed.example"}).json()
        assert after["internal_qa"] == {"status": "accepted", "accepted_at": "2024-02-29", "next_due": "2027-02-28"}
        renewal = session.exec(
            select(ReviewDeadline).where(
                ReviewDeadline.provider_id == provider.id, ReviewDeadline.assessment_id == assessment.id
            )
        ).one()
        assert renewal.due_on == dt.date(2027, 2, 28)

    def test_cycle_years_come_from_the_settings(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        assessment = submitted(session, provider)
        five = Settings(**{**settings.__dict__, "self_assessment_cycle_years": 5})
        sa.review(
            session,
            assessment,
            accept=True,
            reviewer_user_id=reviewer.id or 0,
            actor=f.TEST,
            expected_version=assessment.version,
            settings=five,
            on=dt.date(2025, 1, 10),
        )
        assert assessment.next_due == dt.date(2030, 1, 10)

    def test_return_keeps_a_comment_per_standard(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        assessment = submitted(session, provider)
        sa.review(
            session,
            assessment,
            accept=False,
            reviewer_user_id=reviewer.id or 0,
            actor=f.TEST,
            expected_version=assessment.version,
            settings=settings,
            comment="Nearly there.",
            standard_comments={"1.4": "Evidence of student admission rules is missing.", "1.8": ""},
        )
        rows = sa.entries(session, assessment)
        assert assessment.state == "returned" and assessment.accepted_on is None
        assert rows["1.4"].reviewer_comment == "Evidence of student admission rules is missing."
        assert rows["1.8"].reviewer_comment is None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "self_assessment.return")).one()
        assert event.after is not None and event.after["standard_comments"] == {"1.4": rows["1.4"].reviewer_comment}

    def test_return_needs_a_comment(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        assessment = submitted(session, provider)
        with pytest.raises(ValidationFailed) as caught:
            sa.review(
                session,
                assessment,
                accept=False,
                reviewer_user_id=reviewer.id or 0,
                actor=f.TEST,
                expected_version=assessment.version,
                settings=settings,
            )
        assert "comment" in caught.value.errors

    def test_only_submitted_versions_are_reviewed(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        draft = sa.start_draft(session, provider, f.TEST)
        with pytest.raises(Conflict, match="Only a submitted"):
            sa.review(
                session,
                draft,
                accept=True,
                reviewer_user_id=reviewer.id or 0,
                actor=f.TEST,
                expected_version=draft.version,
                settings=settings,
            )

    def test_provider_staff_cannot_review_even_as_agency_reviewer(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        from registry.accounts.models import RoleMembership

        session.add(RoleMembership(user_id=reviewer.id or 0, role="provider staff", provider_id=provider.id))
        assessment = submitted(session, provider)
        with pytest.raises(PermissionDenied, match="own self-assessment"):
            sa.review(
                session,
                assessment,
                accept=True,
                reviewer_user_id=reviewer.id or 0,
                actor=f.TEST,
                expected_version=assessment.version,
                settings=settings,
            )
        assert assessment.state == "submitted"

    def test_reviewer_of_an_agency_not_covering_the_provider_is_refused(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        stranger = user(session, "agency reviewer", agency_id=f.agency(session).id)
        assessment = submitted(session, provider)
        with pytest.raises(PermissionDenied):
            sa.review(
                session,
                assessment,
                accept=True,
                reviewer_user_id=stranger.id or 0,
                actor=f.TEST,
                expected_version=assessment.version,
                settings=settings,
            )

    def test_operator_may_review(self, session: Session, provider: Provider, settings: Settings) -> None:
        operator = user(session, "operator")
        assessment = submitted(session, provider)
        sa.review(
            session,
            assessment,
            accept=True,
            reviewer_user_id=operator.id or 0,
            actor=f.TEST,
            expected_version=assessment.version,
            settings=settings,
        )
        assert assessment.state == "accepted"

    def test_stale_review_is_a_conflict(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        assessment = submitted(session, provider)
        with pytest.raises(Conflict):
            sa.review(
                session,
                assessment,
                accept=True,
                reviewer_user_id=reviewer.id or 0,
                actor=f.TEST,
                expected_version=assessment.version - 1,
                settings=settings,
            )


class TestCompare:
    def test_lists_only_the_standards_that_changed(
        self, session: Session, provider: Provider, reviewer: User, settings: Settings
    ) -> None:
        first = submitted(session, provider)
        sa.review(
            session,
            first,
            accept=False,
            reviewer_user_id=reviewer.id or 0,
            actor=f.TEST,
            expected_version=first.version,
            settings=settings,
            standard_comments={"1.6": "Which resources?"},
        )
        second = sa.start_draft(session, provider, f.TEST)
        sa.save_entries(
            session,
            second,
            {"1.6": {"narrative": "Library and labs.", "evidence_links": ["https://p.example/labs"]}},
            f.TEST,
            second.version,
        )
        differences = sa.compare(session, first, second)
        assert [d.standard_code for d in differences] == ["1.6"]
        assert differences[0].changes == {
            "narrative": ("How we meet 1.6.", "Library and labs."),
            "evidence_links": ([], ["https://p.example/labs"]),
            "reviewer_comment": ("Which resources?", None),
        }

    def test_versions_of_different_providers_are_not_compared(self, session: Session, provider: Provider) -> None:
        mine = sa.start_draft(session, provider, f.TEST)
        theirs = sa.start_draft(session, f.provider(session), f.TEST)
        with pytest.raises(ValidationFailed):
            sa.compare(session, mine, theirs)
