"""DESIGN.md §2 steps 3 and 4: mergers and negative results, one test per sentence of the rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session

from registry.agencies.services import add_registration
from registry.audit.services import Actor
from registry.errors import ValidationFailed
from registry.providers import services as providers
from registry.providers.models import Provider
from registry.qa.services import ResultInput, revoke_result, update_result, withdraw_result
from registry.settings import Settings
from registry.trust import services
from tests import factories as f

NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
ACTOR = Actor("test")


def ask(session: Session, settings: Settings, provider: Provider, at: str, **params: Any) -> dict[str, Any]:
    query = services.parse_query({"identifier": f.did(provider, session), "at": at, **params}, NOW)
    return services.verdict(session, query, settings, NOW)


def status(session: Session, settings: Settings, provider: Provider, at: str, **params: Any) -> str:
    return str(ask(session, settings, provider, at, **params)["status"])


def merge(session: Session, absorbed: Provider, successor: Provider, on: str, kind: str = "absorbed by") -> None:
    providers.add_relation(
        session, absorbed, kind=kind, related_provider_id=successor.id or 0, valid_from=on, actor=ACTOR
    )


class TestInheritance:
    def test_a_chain_of_mergers_passes_on_what_each_successor_counted(
        self, session: Session, settings: Settings
    ) -> None:
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        agency = f.agency(session)
        from_a = f.result(session, agency, [a], valid_from="2020-01-01", valid_to="2027-12-31")
        from_b = f.result(session, agency, [b], valid_from="2021-01-01", valid_to="2026-12-31")
        merge(session, a, b, "2022-01-01")
        merge(session, b, c, "2024-01-01", kind="succeeded by")
        assert status(session, settings, c, "2023-12-31") == "not_trusted"
        verdict = ask(session, settings, c, "2024-01-01")
        assert verdict["status"] == "trusted"
        inherited = {basis["result_id"]: basis["inherited_from"] for basis in verdict["basis"]}
        assert inherited == {from_a.id: a.id, from_b.id: b.id}
        # Each inherited result counts until it ends.
        assert [b["result_id"] for b in ask(session, settings, c, "2027-06-01")["basis"]] == [from_a.id]
        assert status(session, settings, c, "2028-01-01") == "expired"

    def test_a_result_ended_before_the_later_merger_is_not_passed_on(
        self, session: Session, settings: Settings
    ) -> None:
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        f.result(session, f.agency(session), [a], valid_from="2020-01-01", valid_to="2023-06-30")
        merge(session, a, b, "2022-01-01")
        merge(session, b, c, "2024-01-01")
        assert status(session, settings, b, "2023-01-01") == "trusted"
        assert status(session, settings, c, "2024-01-01") == "not_trusted"

    def test_an_earlier_merger_recorded_later_reaches_the_successor(self, session: Session, settings: Settings) -> None:
        # B->C is recorded first; A->B, which happened before it, only afterwards.
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        f.result(session, f.agency(session), [a], valid_from="2020-01-01", valid_to="2027-12-31")
        merge(session, b, c, "2023-01-01")
        assert status(session, settings, c, "2024-01-01") == "not_trusted"
        merge(session, a, b, "2022-01-01")
        assert status(session, settings, c, "2024-01-01") == "trusted"
        assert status(session, settings, c, "2022-06-01") == "not_trusted"

    def test_negative_results_are_never_inherited(self, session: Session, settings: Settings) -> None:
        absorbed, successor = f.provider(session), f.provider(session)
        agency = f.agency(session)
        own = f.result(session, agency, [successor], valid_from="2020-01-01", valid_to="2027-12-31")
        f.result(session, agency, [absorbed], decision="negative", valid_from="2021-01-01", valid_to="2026-12-31")
        merge(session, absorbed, successor, "2022-01-01")
        verdict = ask(session, settings, successor, "2023-01-01")
        assert verdict["status"] == "trusted"
        assert [b["result_id"] for b in verdict["basis"]] == [own.id]

    def test_the_absorbed_provider_is_closed_from_the_merger_and_keeps_earlier_verdicts(
        self, session: Session, settings: Settings
    ) -> None:
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        f.result(session, f.agency(session), [b], valid_from="2020-01-01", valid_to="2027-12-31")
        merge(session, a, b, "2022-01-01")
        merge(session, b, c, "2024-01-01")
        assert status(session, settings, b, "2023-12-31") == "trusted"
        closed = ask(session, settings, b, "2024-01-01")
        assert closed["status"] == "closed"
        assert closed["reasons"] == [
            f"The provider was absorbed by {providers.display_name(session, c.id or 0)} on 2024-01-01 and closed then."
        ]
        assert status(session, settings, a, "2021-12-31") == "not_trusted"
        assert status(session, settings, a, "2022-01-01") == "closed"


class TestTimelinesFollowTheChain:
    def test_a_result_recorded_after_the_mergers_reaches_every_later_successor(
        self, session: Session, settings: Settings
    ) -> None:
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        merge(session, a, b, "2022-01-01")
        merge(session, b, c, "2024-01-01")
        agency = f.agency(session)
        made = f.result(session, agency, [a], valid_from="2020-01-01", valid_to="2027-12-31")
        assert status(session, settings, c, "2025-01-01") == "trusted"
        revoke_result(session, made, revoked_from="2023-06-01", actor=ACTOR)
        assert status(session, settings, b, "2023-01-01") == "trusted"
        assert status(session, settings, c, "2025-01-01") == "not_trusted"

    def test_an_edited_or_withdrawn_predecessor_result_refreshes_the_successors(
        self, session: Session, settings: Settings
    ) -> None:
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        agency = f.agency(session)
        made = f.result(session, agency, [a], valid_from="2020-01-01", valid_to="2027-12-31")
        merge(session, a, b, "2022-01-01")
        merge(session, b, c, "2024-01-01")
        assert status(session, settings, c, "2025-01-01") == "trusted"
        data = ResultInput(
            agency_id=agency.id or 0,
            provider_ids=[a.id or 0],
            activity_type="institutional",
            status=f.OBLIGATORY,
            decision="positive",
            valid_from="2020-01-01",
            valid_to="2023-12-31",
        )
        update_result(session, made, data, ACTOR, expected_version=made.version)
        assert status(session, settings, c, "2025-01-01") == "not_trusted"
        data.valid_to = "2027-12-31"
        update_result(session, made, data, ACTOR, expected_version=made.version)
        assert status(session, settings, c, "2025-01-01") == "trusted"
        withdraw_result(session, made, reason="wrong provider", actor=ACTOR)
        assert status(session, settings, c, "2025-01-01") == "not_trusted"

    def test_a_registration_change_of_the_predecessors_agency_reaches_the_successors(
        self, session: Session, settings: Settings
    ) -> None:
        a, b = f.provider(session), f.provider(session)
        agency = f.agency(session, registered=None)
        f.result(session, agency, [a], valid_from="2020-01-01", valid_to="2027-12-31")
        merge(session, a, b, "2022-01-01")
        assert status(session, settings, b, "2023-01-01") == "not_trusted"
        add_registration(session, agency, registered_from="2019-01-01", registered_to=None, actor=ACTOR)
        assert status(session, settings, b, "2023-01-01") == "trusted"


class TestRecordingAMerger:
    def test_a_provider_ends_in_one_merger_only(self, session: Session) -> None:
        a, b, c = f.provider(session, name="Alpha College"), f.provider(session), f.provider(session)
        merge(session, a, b, "2022-01-01")
        with pytest.raises(ValidationFailed) as error:
            merge(session, a, c, "2023-01-01")
        assert "Alpha College is already recorded as absorbed by" in error.value.errors["related_provider_id"]

    def test_a_merger_cannot_loop_back(self, session: Session) -> None:
        a, b, c = f.provider(session), f.provider(session), f.provider(session)
        merge(session, a, b, "2022-01-01")
        merge(session, b, c, "2023-01-01")
        with pytest.raises(ValidationFailed) as error:
            merge(session, c, a, "2024-01-01")
        assert "descends from this provider" in error.value.errors["related_provider_id"]

    def test_the_successor_must_still_be_open_on_the_merger_date(self, session: Session) -> None:
        a, b = f.provider(session), f.provider(session, closed_on="2021-01-01")
        with pytest.raises(ValidationFailed) as error:
            merge(session, a, b, "2022-01-01")
        assert "closed on 2021-01-01" in error.value.errors["related_provider_id"]
        assert a.closed_on is None


class TestNegativeResults:
    def test_a_negative_result_with_limits_blocks_only_queries_within_them(
        self, session: Session, settings: Settings
    ) -> None:
        provider = f.provider(session)
        agency = f.agency(session)
        f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2027-12-31")
        negative = f.result(
            session,
            agency,
            [provider],
            decision="negative",
            valid_from="2022-01-01",
            valid_to="2027-12-31",
            limit_eqf_levels=[8],
            limit_fields=["04"],
        )
        assert status(session, settings, provider, "2023-01-01", eqf_level="8", field="0413") == "not_trusted"
        assert status(session, settings, provider, "2023-01-01", eqf_level="7", field="0413") == "trusted"
        assert status(session, settings, provider, "2023-01-01", eqf_level="8", field="0511") == "trusted"
        # A scope that does not say its field does not lie within a field limit.
        assert status(session, settings, provider, "2023-01-01", eqf_level="8") == "trusted"
        blocked = ask(session, settings, provider, "2023-01-01", eqf_level="8", field="0413")
        assert [b["result_id"] for b in blocked["basis"]] == [negative.id]

    def test_a_query_without_scope_is_blocked_only_by_a_negative_result_without_limits(
        self, session: Session, settings: Settings
    ) -> None:
        limited, unlimited = f.provider(session), f.provider(session)
        agency = f.agency(session)
        for provider in (limited, unlimited):
            f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2027-12-31")
        f.result(session, agency, [limited], decision="negative", valid_from="2022-01-01", limit_jurisdictions=["NL"])
        f.result(session, agency, [unlimited], decision="negative", valid_from="2022-01-01")
        assert status(session, settings, limited, "2023-01-01") == "trusted"
        assert status(session, settings, unlimited, "2023-01-01") == "not_trusted"
        # A negative result without limits blocks every scope as well.
        assert status(session, settings, unlimited, "2023-01-01", eqf_level="6") == "not_trusted"

    def test_a_negative_result_that_blocks_nothing_appears_in_basis_and_reasons(
        self, session: Session, settings: Settings
    ) -> None:
        provider = f.provider(session)
        agency = f.agency(session)
        positive = f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2027-12-31")
        negative = f.result(
            session, agency, [provider], decision="negative", valid_from="2022-01-01", limit_eqf_levels=[8]
        )
        verdict = ask(session, settings, provider, "2023-01-01")
        assert verdict["status"] == "trusted"
        assert [b["result_id"] for b in verdict["basis"]] == [positive.id, negative.id]
        assert any(
            "negative" in reason and "limited to EQF level 8" in reason and "does not apply" in reason
            for reason in verdict["reasons"]
        )
        # Also next to an out-of-scope answer.
        uncovered = ask(session, settings, provider, "2023-01-01", field="0511", eqf_level="7")
        assert negative.id in [b["result_id"] for b in uncovered["basis"]]

    def test_a_negative_result_by_an_unregistered_agency_counts_for_nothing(
        self, session: Session, settings: Settings
    ) -> None:
        provider = f.provider(session)
        positive = f.result(session, f.agency(session), [provider], valid_from="2020-01-01", valid_to="2027-12-31")
        unregistered = f.agency(session, registered=("2024-01-01", None))
        f.result(session, unregistered, [provider], decision="negative", valid_from="2022-01-01")
        verdict = ask(session, settings, provider, "2023-01-01")
        assert verdict["status"] == "trusted"
        assert [b["result_id"] for b in verdict["basis"]] == [positive.id]
        assert not any("negative" in reason for reason in verdict["reasons"])


class TestWithdrawingAMerger:
    """A merger recorded in error is withdrawn: every verdict is as if it had never been recorded."""

    def test_the_provider_reopens_and_the_successor_stops_inheriting(
        self, session: Session, settings: Settings
    ) -> None:
        absorbed, successor = f.provider(session), f.provider(session)
        f.result(session, f.agency(session), [absorbed], valid_from="2020-01-01", valid_to="2027-12-31")
        merge(session, absorbed, successor, "2022-01-01")
        assert status(session, settings, absorbed, "2023-01-01") == "closed"
        assert status(session, settings, successor, "2023-01-01") == "trusted"
        relation = providers.merger_of(session, absorbed.id or 0)
        assert relation is not None
        providers.withdraw_relation(session, relation, reason="recorded for the wrong provider", actor=ACTOR)
        session.commit()
        assert absorbed.closed_on is None
        assert status(session, settings, absorbed, "2023-01-01") == "trusted"
        assert status(session, settings, successor, "2023-01-01") == "not_trusted"
        assert providers.merger_of(session, absorbed.id or 0) is None
        # Kept, with its reason, for the history.
        assert relation.withdrawn_at is not None and relation.withdrawn_reason == "recorded for the wrong provider"

    def test_an_earlier_closing_date_comes_back(self, session: Session, settings: Settings) -> None:
        absorbed, successor = f.provider(session), f.provider(session)
        absorbed.closed_on = dt.date(2026, 6, 30)
        session.add(absorbed)
        merge(session, absorbed, successor, "2024-01-01")
        assert absorbed.closed_on == dt.date(2024, 1, 1)
        relation = providers.merger_of(session, absorbed.id or 0)
        assert relation is not None
        providers.withdraw_relation(session, relation, reason="wrong date", actor=ACTOR)
        assert absorbed.closed_on == dt.date(2026, 6, 30)

    def test_a_merger_into_a_provider_closed_the_same_day_keeps_that_day(self, session: Session) -> None:
        absorbed, successor = f.provider(session), f.provider(session)
        absorbed.closed_on = dt.date(2024, 1, 1)
        session.add(absorbed)
        merge(session, absorbed, successor, "2024-01-01")
        relation = providers.merger_of(session, absorbed.id or 0)
        assert relation is not None
        providers.withdraw_relation(session, relation, reason="duplicate", actor=ACTOR)
        assert absorbed.closed_on == dt.date(2024, 1, 1)

    def test_a_reason_is_required_and_a_merger_is_withdrawn_once(self, session: Session) -> None:
        absorbed, successor = f.provider(session), f.provider(session)
        merge(session, absorbed, successor, "2024-01-01")
        relation = providers.merger_of(session, absorbed.id or 0)
        assert relation is not None
        with pytest.raises(ValidationFailed) as missing:
            providers.withdraw_relation(session, relation, reason="  ", actor=ACTOR)
        assert "reason" in missing.value.errors
        providers.withdraw_relation(session, relation, reason="mistake", actor=ACTOR)
        with pytest.raises(ValidationFailed) as twice:
            providers.withdraw_relation(session, relation, reason="again", actor=ACTOR)
        assert twice.value.errors == {"reason": "this relation is already withdrawn"}

    def test_the_right_merger_can_be_recorded_after_the_wrong_one_is_withdrawn(
        self, session: Session, settings: Settings
    ) -> None:
        absorbed, wrong, right = f.provider(session), f.provider(session), f.provider(session)
        f.result(session, f.agency(session), [absorbed], valid_from="2020-01-01", valid_to="2027-12-31")
        merge(session, absorbed, wrong, "2022-01-01")
        relation = providers.merger_of(session, absorbed.id or 0)
        assert relation is not None
        providers.withdraw_relation(session, relation, reason="wrong successor", actor=ACTOR)
        merge(session, absorbed, right, "2022-01-01")
        session.commit()
        assert status(session, settings, right, "2023-01-01") == "trusted"
        assert status(session, settings, wrong, "2023-01-01") == "not_trusted"
        assert status(session, settings, absorbed, "2023-01-01") == "closed"
