from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from sqlmodel import Session, select

from registry.agencies.services import add_registration
from registry.assessments.models import SelfAssessment
from registry.deadlines.models import ReviewDeadline
from registry.deadlines.services import (
    CONDITIONS_DUE,
    EQAR_REGISTRATION_END,
    RESULT_EXPIRY,
    SELF_ASSESSMENT_DUE,
    sync_all,
)
from registry.providers.models import Provider
from registry.qa.models import QAResult, QAResultProvider
from registry.qa.services import ResultInput, revoke_result, update_result, withdraw_result
from tests.deadlines.conftest import TEST, days


def _deadlines(session: Session, **where: object) -> list[ReviewDeadline]:
    query = select(ReviewDeadline)
    for key, value in where.items():
        query = query.where(getattr(ReviewDeadline, key) == value)
    return list(session.exec(query.order_by(ReviewDeadline.kind)))


class TestResultDeadlines:
    def test_recording_a_result_derives_its_end_of_validity_and_conditions(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        provider = make_provider()
        result = make_result(
            provider, decision="positive with conditions or restrictions", conditions_due=days(30), valid_to=days(400)
        )
        found = {d.kind: d for d in _deadlines(session, result_id=result.id)}
        assert set(found) == {RESULT_EXPIRY, CONDITIONS_DUE}
        assert found[RESULT_EXPIRY].due_on == days(400)
        assert found[RESULT_EXPIRY].provider_id == provider.id
        assert found[RESULT_EXPIRY].agency_id == result.agency_id
        assert found[CONDITIONS_DUE].due_on == days(30)
        assert found[CONDITIONS_DUE].concerns_operators is True

    def test_a_joint_result_has_a_deadline_per_provider(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        first, second = make_provider(), make_provider()
        result = make_result(first, provider_ids=[first.id, second.id])
        assert {d.provider_id for d in _deadlines(session, result_id=result.id)} == {first.id, second.id}

    def test_updating_moves_the_deadline_and_drops_removed_conditions(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        provider = make_provider()
        result = make_result(provider, decision="positive with conditions or restrictions", conditions_due=days(30))
        before = {d.kind: d.id for d in _deadlines(session, result_id=result.id)}
        update_result(
            session,
            result,
            ResultInput(
                agency_id=result.agency_id,
                provider_ids=[provider.id or 0],
                activity_type="institutional",
                status="voluntary",
                decision="positive",
                valid_from=result.valid_from,
                valid_to=days(900),
            ),
            TEST,
            result.version,
        )
        after = _deadlines(session, result_id=result.id)
        assert [(d.kind, d.due_on, d.id) for d in after] == [(RESULT_EXPIRY, days(900), before[RESULT_EXPIRY])]

    def test_revoking_moves_the_end_to_the_revocation(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        result = make_result(make_provider())
        revoke_result(session, result, revoked_from=days(10), actor=TEST)
        assert [d.due_on for d in _deadlines(session, result_id=result.id)] == [days(10)]

    def test_a_withdrawn_result_has_no_deadlines(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        result = make_result(
            make_provider(), decision="positive with conditions or restrictions", conditions_due=days(3)
        )
        withdraw_result(session, result, reason="entered for the wrong provider", actor=TEST)
        assert _deadlines(session, result_id=result.id) == []

    def test_a_negative_result_is_nothing_to_renew(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        result = make_result(make_provider(), decision="negative")
        assert _deadlines(session, result_id=result.id) == []

    def test_a_newer_result_lasting_longer_meets_the_old_expiry_until_it_is_withdrawn(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        provider = make_provider()
        old = make_result(provider, valid_from=days(-2000), valid_to=days(30))
        renewal = make_result(provider, valid_from=days(31), valid_to=days(2000))
        [expiry] = _deadlines(session, result_id=old.id)
        assert expiry.met_at is not None
        met_at = expiry.met_at
        [new_expiry] = _deadlines(session, result_id=renewal.id)
        assert new_expiry.met_at is None
        # Syncing again keeps the first time it was met.
        update_result(
            session,
            old,
            ResultInput(
                agency_id=old.agency_id,
                provider_ids=[provider.id or 0],
                activity_type="institutional",
                status="voluntary",
                decision="positive",
                valid_from=old.valid_from,
                valid_to=old.valid_to,
                summary="typo fixed",
            ),
            TEST,
            old.version,
        )
        session.flush()
        session.expire_all()
        assert _deadlines(session, result_id=old.id)[0].met_at == met_at
        withdraw_result(session, renewal, reason="recorded for the wrong provider", actor=TEST)
        session.flush()
        session.expire_all()
        assert _deadlines(session, result_id=old.id)[0].met_at is None

    def test_a_shorter_newer_result_does_not_meet_the_expiry(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        provider = make_provider()
        old = make_result(provider, valid_from=days(-2000), valid_to=days(300))
        make_result(provider, valid_from=days(-10), valid_to=days(200), activity_type="institutional")
        assert _deadlines(session, result_id=old.id)[0].met_at is None

    def test_an_expiry_is_met_exactly_when_a_later_starting_positive_result_of_the_provider_lasts_longer(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        # Many results over three providers, with shared start days, joint results, negative, revoked and
        # withdrawn ones; each expiry's "met" must follow the rule, worked out here by hand.
        rng = random.Random(15)
        providers = [make_provider() for _ in range(3)]
        results: list[QAResult] = []
        for _ in range(30):
            linked = rng.sample(providers, rng.choice((1, 1, 2)))
            result = make_result(
                linked[0],
                provider_ids=[p.id for p in linked],
                valid_from=days(-rng.choice((900, 600, 600, 300, 300, 100))),
                valid_to=days(rng.choice((10, 200, 200, 400, 800))),
                decision=rng.choice(("positive", "positive", "positive with conditions or restrictions", "negative")),
            )
            if rng.random() < 0.15:
                revoke_result(session, result, revoked_from=result.valid_from + dt.timedelta(days=50), actor=TEST)
            elif rng.random() < 0.1:
                withdraw_result(session, result, reason="recorded in error", actor=TEST)
            results.append(result)
        session.flush()
        session.expire_all()
        counting = [
            r
            for r in results
            if r.withdrawn_at is None and r.decision in ("positive", "positive with conditions or restrictions")
        ]

        def ends(r: QAResult) -> dt.date:
            return r.revoked_from if r.revoked_from is not None and r.revoked_from <= r.valid_to else r.valid_to

        links = {
            r.id: {
                link.provider_id
                for link in session.exec(select(QAResultProvider).where(QAResultProvider.result_id == r.id))
            }
            for r in counting
        }
        expected = {}
        for r in counting:
            for provider_id in links[r.id]:
                renewed = any(
                    provider_id in links[n.id] and n.valid_from > r.valid_from and ends(n) > ends(r) for n in counting
                )
                expected[f"result:{r.id}:expiry:provider:{provider_id}"] = (ends(r), renewed)
        found = {d.source_key: (d.due_on, d.met_at is not None) for d in _deadlines(session, kind=RESULT_EXPIRY)}
        assert found == expected
        assert {renewed for _, renewed in expected.values()} == {True, False}
        # Same rule when everything is derived again.
        sync_all(session)
        session.flush()
        session.expire_all()
        assert {
            d.source_key: (d.due_on, d.met_at is not None) for d in _deadlines(session, kind=RESULT_EXPIRY)
        } == expected


class TestAgencyAndAssessmentDeadlines:
    def test_a_window_renewed_by_an_open_ended_one_is_no_deadline(self, session: Session) -> None:
        from registry.agencies.services import create_agency

        agency = create_agency(session, name="Renewed Agency", acronym="REN", country="FR", actor=TEST)
        add_registration(session, agency, registered_from=days(-2000), registered_to=days(100), actor=TEST)
        add_registration(session, agency, registered_from=days(101), actor=TEST)
        # The open-ended window reaches beyond the first one's end: nothing to renew.
        assert _deadlines(session, agency_id=agency.id, kind=EQAR_REGISTRATION_END) == []

    def test_the_last_window_end_concerns_the_agency_and_operators(self, session: Session) -> None:
        from registry.agencies.services import create_agency

        agency = create_agency(session, name="Window Agency", acronym="WIN", country="FR", actor=TEST)
        add_registration(session, agency, registered_from=days(-2000), registered_to=days(-10), actor=TEST)
        add_registration(session, agency, registered_from=days(-9), registered_to=days(200), actor=TEST)
        [deadline] = _deadlines(session, agency_id=agency.id, kind=EQAR_REGISTRATION_END)
        assert (deadline.due_on, deadline.concerns_operators, deadline.provider_id) == (days(200), True, None)

    def test_only_the_latest_accepted_self_assessment_sets_the_due_date(
        self, session: Session, make_provider: Callable[..., Provider]
    ) -> None:
        provider = make_provider()
        for number, due in ((1, days(20)), (2, days(1000))):
            session.add(
                SelfAssessment(
                    provider_id=provider.id or 0,
                    version_number=number,
                    state="accepted",
                    accepted_on=days(-10),
                    next_due=due,
                )
            )
            session.flush()
        [deadline] = _deadlines(session, provider_id=provider.id, kind=SELF_ASSESSMENT_DUE)
        assert deadline.due_on == days(1000)


class TestSyncAll:
    def test_sync_all_rebuilds_the_same_deadlines(
        self, session: Session, make_provider: Callable[..., Provider], make_result: Callable[..., QAResult]
    ) -> None:
        result = make_result(
            make_provider(), decision="positive with conditions or restrictions", conditions_due=days(3)
        )
        before = sorted((d.source_key, d.due_on) for d in _deadlines(session))
        assert any(key.startswith("result:") for key, _ in before)
        # Drift the stored row, as if a write had bypassed the services.
        session.exec(select(ReviewDeadline).where(ReviewDeadline.result_id == result.id)).first().due_on = days(1)  # type: ignore[union-attr]
        session.flush()
        sync_all(session)
        session.flush()
        session.expire_all()
        assert sorted((d.source_key, d.due_on) for d in _deadlines(session)) == before
