"""Provider rules: every rejected input says what is wrong, and nothing is half-saved."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import Actor, history
from registry.errors import Conflict, ValidationFailed
from registry.providers import services as providers
from registry.providers.models import Provider, ProviderIdentifier
from tests import factories as f

ACTOR = Actor("test")


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


class TestCreateProvider:
    def test_all_problems_are_reported_at_once(self, session: Session) -> None:
        with pytest.raises(ValidationFailed) as error:
            providers.create_provider(
                session,
                providers.ProviderInput(
                    name=" ", country="XX", provider_type="castle", founded_on="2020-13-01", website="ftp://x"
                ),
                ACTOR,
            )
        assert set(error.value.errors) == {"name", "country", "provider_type", "founded_on", "website"}
        assert "YYYY-MM-DD" in error.value.errors["founded_on"]

    def test_closure_before_founding_is_refused(self, session: Session) -> None:
        with pytest.raises(ValidationFailed) as error:
            f.provider(session, founded_on="2020-01-01", closed_on="2019-01-01")
        assert "before the founding date" in error.value.errors["closed_on"]

    def test_a_bad_identifier_saves_nothing(self, session: Session) -> None:
        before = (_count(session, Provider), _count(session, ProviderIdentifier))
        savepoint = session.begin_nested()
        with pytest.raises(ValidationFailed) as error:
            f.provider(
                session,
                identifiers=[
                    {"scheme": "domain", "value": "ok.example"},
                    {"scheme": "lei", "value": "5299000J2N45DDNE4Y29"},
                ],
            )
        savepoint.rollback()
        assert "identifiers[1].value" in error.value.errors
        assert "check digits" in error.value.errors["identifiers[1].value"]
        assert (_count(session, Provider), _count(session, ProviderIdentifier)) == before

    def test_creation_is_audited(self, session: Session) -> None:
        provider = f.provider(session)
        [event] = history(session, "provider", provider.id or 0)
        assert (event.action, event.actor_label) == ("provider.create", "test")
        assert event.after is not None and event.after["country_iso2"] == "NL"


class TestIdentifiers:
    def test_unique_among_identifiers_valid_at_the_same_time(self, session: Session) -> None:
        first = f.provider(
            session, identifiers=[{"scheme": "domain", "value": "taken.example", "valid_to": "2020-12-31"}]
        )
        second = f.provider(session, identifiers=[])
        with pytest.raises(ValidationFailed) as error:
            providers.add_identifier(
                session, second, scheme="domain", value="TAKEN.example.", valid_from="2020-06-01", actor=ACTOR
            )
        assert f"belongs to provider {first.id}" in error.value.errors["value"]
        later = providers.add_identifier(
            session, second, scheme="domain", value="TAKEN.example.", valid_from="2021-01-01", actor=ACTOR
        )
        assert later.normalised == "taken.example"

    def test_an_unproven_claim_does_not_block_the_real_holder(self, session: Session) -> None:
        claimant = f.provider(
            session, identifiers=[{"scheme": "domain", "value": "contested.example", "origin": "claimed"}]
        )
        holder = f.provider(session, identifiers=[{"scheme": "domain", "value": "contested.example"}])
        assert claimant.id != holder.id
        with pytest.raises(ValidationFailed) as error:
            providers.add_identifier(session, claimant, scheme="domain", value="contested.example", actor=ACTOR)
        assert f"belongs to provider {holder.id}" in error.value.errors["value"]

    def test_validity_must_not_end_before_it_starts(self, session: Session) -> None:
        provider = f.provider(session, identifiers=[])
        with pytest.raises(ValidationFailed) as error:
            providers.add_identifier(
                session,
                provider,
                scheme="did",
                value="did:web:a.example",
                valid_from="2022-01-01",
                valid_to="2021-01-01",
                actor=ACTOR,
            )
        assert "valid_to" in error.value.errors

    def test_unknown_scheme_is_named(self, session: Session) -> None:
        provider = f.provider(session, identifiers=[])
        with pytest.raises(ValidationFailed) as error:
            providers.add_identifier(session, provider, scheme="isbn", value="123", actor=ACTOR)
        assert "unknown identifier scheme" in error.value.errors["scheme"]


class TestRelations:
    def test_a_provider_cannot_be_its_own_parent(self, session: Session) -> None:
        provider = f.provider(session)
        with pytest.raises(ValidationFailed) as error:
            providers.add_relation(session, provider, kind="parent", related_provider_id=provider.id or 0, actor=ACTOR)
        assert "itself" in error.value.errors["related_provider_id"]

    def test_parent_cycles_are_refused(self, session: Session) -> None:
        university, faculty = f.provider(session), f.provider(session)
        providers.add_relation(session, faculty, kind="parent", related_provider_id=university.id or 0, actor=ACTOR)
        with pytest.raises(ValidationFailed) as error:
            providers.add_relation(session, university, kind="parent", related_provider_id=faculty.id or 0, actor=ACTOR)
        assert "its own parent" in error.value.errors["related_provider_id"]

    def test_a_merger_needs_its_date_and_closes_the_absorbed_provider(self, session: Session) -> None:
        absorbed, successor = f.provider(session), f.provider(session)
        with pytest.raises(ValidationFailed) as error:
            providers.add_relation(
                session, absorbed, kind="absorbed by", related_provider_id=successor.id or 0, actor=ACTOR
            )
        assert "valid_from" in error.value.errors
        providers.add_relation(
            session,
            absorbed,
            kind="absorbed by",
            related_provider_id=successor.id or 0,
            valid_from="2023-09-01",
            actor=ACTOR,
        )
        assert str(absorbed.closed_on) == "2023-09-01"


class TestEditing:
    def test_a_stale_version_is_a_conflict_not_an_overwrite(self, session: Session) -> None:
        provider = f.provider(session)
        providers.update_provider(session, provider, {"website": "https://new.example"}, ACTOR, expected_version=1)
        with pytest.raises(Conflict):
            providers.update_provider(
                session, provider, {"website": "https://other.example"}, ACTOR, expected_version=1
            )
        assert provider.website == "https://new.example"
        update = session.exec(select(AuditEvent).where(AuditEvent.action == "provider.update")).one()
        assert update.before is not None and update.after is not None
        assert (update.before["website"], update.after["website"]) == (None, "https://new.example")

    def test_suspension_must_end_after_it_starts(self, session: Session) -> None:
        provider = f.provider(session)
        with pytest.raises(ValidationFailed) as error:
            providers.suspend(
                session, provider, suspended_from="2022-02-01", suspended_to="2022-01-01", reason="x", actor=ACTOR
            )
        assert "suspended_to" in error.value.errors
