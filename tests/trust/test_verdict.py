"""Every rule of DESIGN.md §2 and its edges, through the services that write and the lookup that reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session

from registry.audit.services import Actor
from registry.providers import services as providers
from registry.qa.services import revoke_result, update_result, withdraw_result
from registry.settings import Settings
from registry.trust import services
from tests import factories as f

NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
ACTOR = Actor("test")


def ask(session: Session, settings: Settings, identifier: str, at: str, **params: Any) -> dict[str, Any]:
    query = services.parse_query({"identifier": identifier, "at": at, **params}, NOW)
    return services.verdict(session, query, settings, NOW)


def status(session: Session, settings: Settings, identifier: str, at: str, **params: Any) -> str:
    return str(ask(session, settings, identifier, at, **params)["status"])


class TestValidityWindow:
    def test_both_ends_of_a_result_are_included(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], valid_from="2020-01-01", valid_to="2025-12-31")
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2019-12-31") == "not_trusted"
        assert status(session, settings, ident, "2020-01-01") == "trusted"
        assert status(session, settings, ident, "2025-12-31") == "trusted"
        assert status(session, settings, ident, "2026-01-01") == "expired"

    def test_a_date_time_is_compared_by_its_utc_date(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], valid_from="2020-01-01", valid_to="2025-12-31")
        ident = f.did(provider, session)
        # 2026-01-01T00:30+02:00 is still 2025-12-31 in UTC.
        assert status(session, settings, ident, "2026-01-01T00:30:00+02:00") == "trusted"
        assert status(session, settings, ident, "2026-01-01T00:30:00Z") == "expired"

    def test_default_validity_is_six_years(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        made = f.result(session, f.agency(session), [provider], valid_from="2020-03-01", valid_to=None)
        assert made.valid_to == dt.date(2026, 3, 1)

    def test_revocation_counts_from_its_day_and_leaves_earlier_verdicts(
        self, session: Session, settings: Settings
    ) -> None:
        provider = f.provider(session)
        made = f.result(session, f.agency(session), [provider])
        revoke_result(session, made, revoked_from="2022-05-10", actor=ACTOR)
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2022-05-09") == "trusted"
        revoked = ask(session, settings, ident, "2022-05-10")
        assert revoked["status"] == "expired"
        assert "revoked from 2022-05-10" in revoked["reasons"][0]

    def test_a_withdrawn_result_counts_for_no_date(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        made = f.result(session, f.agency(session), [provider])
        withdraw_result(session, made, reason="entered for the wrong provider", actor=ACTOR)
        ident = f.did(provider, session)
        for day in ("2021-01-01", "2027-01-01"):
            verdict = ask(session, settings, ident, day)
            assert verdict["status"] == "not_trusted"
            assert verdict["basis"] == []


class TestAgencyRegistration:
    def test_only_results_of_agencies_registered_on_their_start_count(
        self, session: Session, settings: Settings
    ) -> None:
        agency = f.agency(session, registered=("2021-01-01", "2024-12-31"))
        before, during = f.provider(session), f.provider(session)
        f.result(session, agency, [before], valid_from="2020-06-01")
        f.result(session, agency, [during], valid_from="2021-01-01")
        assert status(session, settings, f.did(before, session), "2022-01-01") == "not_trusted"
        assert status(session, settings, f.did(during, session), "2022-01-01") == "trusted"
        # Registered on the result's start is enough, even after the registration ends.
        assert status(session, settings, f.did(during, session), "2025-06-01") == "trusted"

    def test_the_requirement_is_a_policy_option(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session, registered=None), [provider])
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2022-01-01") == "not_trusted"
        lenient = Settings(**{**settings.__dict__, "require_eqar_registered": False})
        assert status(session, lenient, ident, "2022-01-01") == "trusted"

    def test_basis_reports_the_agency_and_its_registration(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        agency = f.agency(session)
        made = f.result(session, agency, [provider], report_links=["https://agency.example/r/1.pdf"])
        verdict = ask(session, settings, f.did(provider, session), "2022-01-01")
        [basis] = verdict["basis"]
        assert basis["result_id"] == made.id
        assert basis["agency"] == {
            "id": agency.id,
            "acronym": agency.acronym,
            "name": agency.name,
            "eqar_registered_at_decision": True,
        }
        assert basis["report_url"] == "https://agency.example/r/1.pdf"
        assert (basis["valid_from"], basis["valid_to"], basis["decision"]) == ("2020-01-01", "2025-12-31", "positive")


class TestDecisions:
    def test_conditions_on_every_covering_result(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        agency = f.agency(session)
        f.result(
            session,
            agency,
            [provider],
            decision="positive with conditions or restrictions",
            conditions_due="2021-06-30",
        )
        ident = f.did(provider, session)
        verdict = ask(session, settings, ident, "2021-01-01")
        assert (verdict["status"], verdict["trusted"]) == ("trusted_with_conditions", True)
        assert verdict["next_review_due"] == "2021-06-30"
        f.result(session, agency, [provider], valid_from="2021-03-01", valid_to="2027-02-28")
        assert status(session, settings, ident, "2021-04-01") == "trusted"

    def test_a_newer_negative_result_overrides(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        agency = f.agency(session)
        f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2025-12-31")
        f.result(session, agency, [provider], decision="negative", valid_from="2022-01-01", valid_to="2027-12-31")
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2021-12-31") == "trusted"
        verdict = ask(session, settings, ident, "2022-01-01")
        assert (verdict["status"], verdict["trusted"]) == ("not_trusted", False)
        assert "negative" in verdict["reasons"][0]

    def test_an_older_negative_result_does_not(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        agency = f.agency(session)
        f.result(session, agency, [provider], decision="negative", valid_from="2019-01-01", valid_to="2024-12-31")
        f.result(session, agency, [provider], valid_from="2021-01-01", valid_to="2026-12-31")
        assert status(session, settings, f.did(provider, session), "2022-01-01") == "trusted"

    def test_not_applicable_is_no_coverage(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], decision="not applicable")
        assert status(session, settings, f.did(provider, session), "2022-01-01") == "not_trusted"

    def test_a_result_for_several_providers_covers_each(self, session: Session, settings: Settings) -> None:
        first, second = f.provider(session), f.provider(session)
        f.result(session, f.agency(session), [first, second])
        assert status(session, settings, f.did(first, session), "2022-01-01") == "trusted"
        assert status(session, settings, f.did(second, session), "2022-01-01") == "trusted"

    def test_an_edited_result_changes_the_verdict_at_once(self, session: Session, settings: Settings) -> None:
        from registry.qa.services import ResultInput

        provider = f.provider(session)
        agency = f.agency(session)
        made = f.result(session, agency, [provider])
        ident = f.did(provider, session)
        data = ResultInput(
            agency_id=agency.id or 0,
            provider_ids=[provider.id or 0],
            activity_type="institutional",
            status=f.OBLIGATORY,
            decision="negative",
            valid_from="2020-01-01",
            valid_to="2025-12-31",
        )
        update_result(session, made, data, ACTOR, expected_version=made.version)
        assert status(session, settings, ident, "2022-01-01") == "not_trusted"


class TestScope:
    PROGRAMME = {
        "name": "MSc Data",
        "identifier": "urn:prog:msc-data",
        "eqf_level": 7,
        "isced_field": "0612",
        "full_degree": True,
    }

    def test_programme_results_cover_only_named_programmes(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], activity_type="programme", programmes=[self.PROGRAMME])
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2022-01-01") == "not_covered"
        assert status(session, settings, ident, "2022-01-01", programme="urn:prog:msc-data") == "trusted"
        assert status(session, settings, ident, "2022-01-01", programme="urn:prog:other") == "not_covered"
        assert status(session, settings, ident, "2022-01-01", programme="urn:prog:msc-data", eqf_level="6") == (
            "not_covered"
        )

    def test_institutional_results_cover_provision_within_their_limits(
        self, session: Session, settings: Settings
    ) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], limit_eqf_levels=[6, 7], limit_fields=["04"])
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2022-01-01") == "trusted"
        assert status(session, settings, ident, "2022-01-01", eqf_level="7", field="0413") == "trusted"
        assert status(session, settings, ident, "2022-01-01", programme="urn:any") == "trusted"
        assert status(session, settings, ident, "2022-01-01", eqf_level="8") == "not_covered"
        assert status(session, settings, ident, "2022-01-01", field="05") == "not_covered"

    def test_an_ended_result_within_scope_is_expired_not_uncovered(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], activity_type="programme", programmes=[self.PROGRAMME])
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2026-02-01", programme="urn:prog:msc-data") == "expired"
        assert status(session, settings, ident, "2026-02-01") == "not_trusted"


class TestProviderLifecycle:
    def test_closure_from_its_date(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider])
        providers.update_provider(session, provider, {"closed_on": "2023-01-01"}, ACTOR, provider.version)
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2022-12-31") == "trusted"
        assert status(session, settings, ident, "2023-01-01") == "closed"

    def test_suspension_interval_excludes_its_end(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider])
        providers.suspend(
            session,
            provider,
            suspended_from="2022-01-01",
            suspended_to="2022-03-01",
            reason="investigation",
            actor=ACTOR,
        )
        ident = f.did(provider, session)
        assert status(session, settings, ident, "2021-12-31") == "trusted"
        suspended = ask(session, settings, ident, "2022-01-01")
        assert suspended["status"] == "suspended"
        assert "investigation" in suspended["reasons"][0]
        assert status(session, settings, ident, "2022-02-28") == "suspended"
        assert status(session, settings, ident, "2022-03-01") == "trusted"

    def test_open_ended_suspension(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider])
        providers.suspend(session, provider, suspended_from="2022-01-01", suspended_to=None, reason="x", actor=ACTOR)
        assert status(session, settings, f.did(provider, session), "2024-01-01") == "suspended"

    def test_a_successor_counts_the_absorbed_providers_results_from_the_merger(
        self, session: Session, settings: Settings
    ) -> None:
        absorbed, successor = f.provider(session), f.provider(session, name="Successor University")
        successor_name = "Successor University"
        agency = f.agency(session)
        inherited = f.result(session, agency, [absorbed], valid_from="2020-01-01", valid_to="2025-12-31")
        f.result(session, agency, [absorbed], valid_from="2019-01-01", valid_to="2021-06-30")  # ended before
        providers.add_relation(
            session,
            absorbed,
            kind="absorbed by",
            related_provider_id=successor.id or 0,
            valid_from="2022-01-01",
            actor=ACTOR,
        )
        old, new = f.did(absorbed, session), f.did(successor, session)
        assert status(session, settings, old, "2021-12-31") == "trusted"
        closed = ask(session, settings, old, "2022-01-01")
        assert closed["status"] == "closed"
        assert f"absorbed by {successor_name} on 2022-01-01" in closed["reasons"][0]
        assert status(session, settings, new, "2021-12-31") == "not_trusted"
        verdict = ask(session, settings, new, "2022-01-01")
        assert verdict["status"] == "trusted"
        assert [b["result_id"] for b in verdict["basis"]] == [inherited.id]
        assert verdict["basis"][0]["inherited_from"] == absorbed.id
        assert status(session, settings, new, "2026-01-01") == "expired"


class TestIdentifiers:
    def test_identifier_validity_dates_decide_the_provider(self, session: Session, settings: Settings) -> None:
        agency = f.agency(session)
        first = f.provider(
            session, identifiers=[{"scheme": "domain", "value": "shared.example", "valid_to": "2021-12-31"}]
        )
        second = f.provider(
            session, identifiers=[{"scheme": "domain", "value": "shared.example", "valid_from": "2022-01-01"}]
        )
        f.result(session, agency, [first])
        assert ask(session, settings, "shared.example", "2021-06-01", scheme="domain")["provider"]["id"] == first.id
        later = ask(session, settings, "shared.example", "2022-06-01", scheme="domain")
        assert (later["provider"]["id"], later["status"]) == (second.id, "not_trusted")

    def test_unproven_claims_do_not_resolve(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider])
        providers.add_identifier(
            session, provider, scheme="did", value="did:web:claimed.example", origin="claimed", actor=ACTOR
        )
        verdict = ask(session, settings, "did:web:claimed.example", "2022-01-01")
        assert (verdict["status"], verdict["provider"], verdict["trusted"]) == ("unknown", None, False)

    def test_url_falls_back_to_the_registered_domain(self, session: Session, settings: Settings) -> None:
        provider = f.provider(session, identifiers=[{"scheme": "domain", "value": "campus.example"}])
        f.result(session, f.agency(session), [provider])
        verdict = ask(session, settings, "https://Campus.example/badges/issuer.json", "2022-01-01")
        assert (verdict["provider"]["id"], verdict["scheme"]) == (provider.id, "domain")

    def test_an_identifier_naming_two_providers_asks_for_the_scheme(self, session: Session, settings: Settings) -> None:
        from registry.errors import ValidationFailed

        clash_a = f.provider(session, identifiers=[{"scheme": "schac", "value": "clash.example"}])
        clash_b = f.provider(session, identifiers=[{"scheme": "domain", "value": "clash.example"}])
        with pytest.raises(ValidationFailed) as error:
            ask(session, settings, "clash.example", "2022-01-01")
        assert "scheme" in error.value.errors
        assert ask(session, settings, "clash.example", "2022-01-01", scheme="schac")["provider"]["id"] == clash_a.id
        assert ask(session, settings, "clash.example", "2022-01-01", scheme="domain")["provider"]["id"] == clash_b.id


class TestInternalQA:
    def test_accepted_self_assessment_shows_and_can_be_required(self, session: Session, settings: Settings) -> None:
        from registry.assessments.models import SelfAssessment

        provider = f.provider(session)
        f.result(session, f.agency(session), [provider])
        ident = f.did(provider, session)
        strict = Settings(**{**settings.__dict__, "require_internal_qa_years": 3})
        assert status(session, strict, ident, "2022-01-01") == "not_trusted"
        session.add(
            SelfAssessment(
                provider_id=provider.id or 0,
                state="accepted",
                accepted_on=f.day("2021-01-10"),
                next_due=f.day("2024-01-10"),
            )
        )
        verdict = ask(session, strict, ident, "2022-01-01")
        assert verdict["status"] == "trusted"
        assert verdict["internal_qa"] == {"status": "accepted", "accepted_at": "2021-01-10", "next_due": "2024-01-10"}
        assert status(session, strict, ident, "2024-02-01") == "not_trusted"
        assert status(session, settings, ident, "2024-02-01") == "trusted"
