"""A submission names a provider the registry does not hold: created from its master data, or refused."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from sqlmodel import Session, col, select

from registry.audit.models import AuditEvent
from registry.providers.models import Provider, ProviderIdentifier, ProviderName
from registry.qa.models import QAResult, QAResultProvider
from tests import factories as f
from tests.factories import World
from tests.submissions.test_api import URL, bearer, make_token, programme_report
from tests.submissions.test_csv import URL as CSV_URL

CREATE = ("results:submit", "providers:create")


def newcomer(**changes: Any) -> dict[str, Any]:
    """An institution new to the registry, with its master data in DEQAR's field names (plus provider_type)."""
    institution = {
        "eter_id": "pt0042",
        "name_official": "Escola Nova de Música",
        "name_english": "New School of Music",
        "acronym": "ENM",
        "country": "pt",
        "website_link": "https://enm.example",
        "provider_type": "private HEI",
        "identifiers": [
            {"identifier": "https://ror.org/05f0yaq80", "resource": "ror"},
            {"identifier": "INST-7"},  # no resource: the agency's own identifier
        ],
    }
    institution.update(changes)
    return institution


def providers_with(session: Session, scheme: str, normalised: str) -> list[int]:
    query = select(ProviderIdentifier.provider_id).where(
        ProviderIdentifier.scheme == scheme, ProviderIdentifier.normalised == normalised
    )
    return list(session.exec(query))


class TestCreation:
    def test_a_token_that_may_create_providers_creates_one_with_normalised_identifiers(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a, CREATE)
        report = programme_report("NEW-1", institutions=[newcomer()])
        answer = client.post(URL, json=report, headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        outcome = answer.json()["reports"][0]
        assert outcome["submission_status"] == "created"
        assert any("new to the registry was created" in w for w in outcome["warnings"])
        (provider_id,) = providers_with(session, "eter", "PT0042")
        provider = session.get(Provider, provider_id)
        assert provider is not None
        assert (provider.country_iso2, provider.provider_type, provider.created_by_agency_id) == (
            "PT", "private HEI", world.agency_a,
        )  # fmt: skip
        names = {
            n.kind: n.name for n in session.exec(select(ProviderName).where(ProviderName.provider_id == provider_id))
        }
        assert names == {"official": "Escola Nova de Música", "english": "New School of Music", "acronym": "ENM"}
        held = {
            (i.scheme, i.normalised, i.origin, i.agency_id)
            for i in session.exec(select(ProviderIdentifier).where(ProviderIdentifier.provider_id == provider_id))
        }
        assert held == {
            ("eter", "PT0042", "agency", None),
            ("ror", "05f0yaq80", "agency", None),
            ("local", "AAA:INST-7", "agency", world.agency_a),
        }
        links = session.exec(select(QAResultProvider).where(QAResultProvider.result_id == outcome["result_id"]))
        assert [link.provider_id for link in links] == [provider_id]
        # Audited as the token, on behalf of its agency.
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "provider.create", AuditEvent.entity_id == provider_id)
        ).one()
        assert event.actor_label.startswith("api token") and event.actor_label.endswith("for AAA")
        # Sent again: the provider is found by its identifiers; nothing is created twice.
        again = client.post(URL, json=report, headers=bearer(secret)).json()["reports"][0]
        assert again["submission_status"] == "unchanged"
        assert providers_with(session, "eter", "PT0042") == [provider_id]

    def test_a_dry_run_creates_nothing(self, client: TestClient, world: World, session: Session) -> None:
        secret = make_token(session, world.agency_a, CREATE)
        report = programme_report("NEW-2", institutions=[newcomer()])
        answer = client.post(f"{URL}?dry_run=true", json=report, headers=bearer(secret))
        outcome = answer.json()["reports"][0]
        assert answer.status_code == 200 and outcome["submission_status"] == "created"
        assert any("new to the registry would be created for institutions[0]" in w for w in outcome["warnings"])
        assert providers_with(session, "eter", "PT0042") == []

    def test_without_the_scope_the_report_is_rejected_naming_the_identifiers_tried(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a)
        answer = client.post(URL, json=programme_report("NEW-3", institutions=[newcomer()]), headers=bearer(secret))
        assert answer.status_code == 400
        (message,) = answer.json()["reports"][0]["errors"]["institutions[0]"]
        assert "no provider in the registry has eter pt0042, ror https://ror.org/05f0yaq80, local AAA:INST-7" in message
        assert "'providers:create'" in message
        assert providers_with(session, "eter", "PT0042") == []

    def test_without_master_data_the_report_is_rejected_naming_the_identifiers_tried(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a, CREATE)
        bare = {"eter_id": "PT0042", "identifiers": [{"identifier": "IAU-000777", "resource": "whed"}]}
        answer = client.post(URL, json=programme_report("NEW-4", institutions=[bare]), headers=bearer(secret))
        assert answer.status_code == 400
        assert answer.json()["reports"][0]["errors"]["institutions[0]"] == [
            "no provider in the registry has eter PT0042, whed IAU-000777"
        ]

    def test_bad_master_data_and_identifiers_are_field_errors_and_nothing_is_written(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a, CREATE)
        bad = newcomer(
            eter_id="PT42",
            country="",
            identifiers=[{"identifier": "not-a-ror", "resource": "ror"}],
        )
        answer = client.post(URL, json=programme_report("NEW-5", institutions=[bad]), headers=bearer(secret))
        errors = answer.json()["reports"][0]["errors"]
        assert answer.status_code == 400
        assert set(errors) == {"institutions[0].eter_id", "institutions[0].identifiers[0]", "institutions[0].country"}
        assert "AT0005" in errors["institutions[0].eter_id"][0]
        unknown = newcomer(country="XX", provider_type="castle", website_link="ftp://enm.example")
        answer = client.post(URL, json=programme_report("NEW-6", institutions=[unknown]), headers=bearer(secret))
        errors = answer.json()["reports"][0]["errors"]
        assert {"institutions[0].country", "institutions[0].provider_type", "institutions[0].website_link"} <= set(
            errors
        )
        assert providers_with(session, "eter", "PT0042") == []
        assert session.exec(select(QAResult).where(col(QAResult.local_id).in_(["NEW-5", "NEW-6"]))).first() is None

    def test_an_identifier_another_provider_holds_is_a_field_error(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        secret = make_token(session, world.agency_a, CREATE)
        # Two institutions new to the registry that claim the same ROR id: the second would take it from the first.
        first = newcomer()
        second = newcomer(eter_id="PT0043", name_official="Other School", identifiers=first["identifiers"][:1])
        answer = client.post(URL, json=programme_report("NEW-7", institutions=[first, second]), headers=bearer(secret))
        assert answer.status_code == 400
        errors = answer.json()["reports"][0]["errors"]
        assert list(errors) == ["institutions[1].identifiers[0]"]
        assert "ror 05f0yaq80 already belongs to provider" in errors["institutions[1].identifiers[0]"][0]
        assert providers_with(session, "eter", "PT0042") == [] and providers_with(session, "eter", "PT0043") == []

    def test_a_known_provider_is_used_even_with_master_data(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        known = f.provider(session, identifiers=[{"scheme": "eter", "value": "PT0042"}])
        secret = make_token(session, world.agency_a, CREATE)
        answer = client.post(URL, json=programme_report("NEW-8", institutions=[newcomer()]), headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        assert providers_with(session, "eter", "PT0042") == [known.id]


class TestCsvCreation:
    HEADER = (
        "agency,local_identifier,activity,status,decision,valid_from,institution[1].eter_id,"
        "institution[1].name_official,institution[1].country,institution[1].provider_type,"
        "institution[1].identifier[1],institution[1].resource[1]"
    )
    ROW = "AAA,CSV-NEW-1,institutional audit,voluntary,positive,2024-01-01,PT0044,Escola Três,PT,VET provider,INST-9,"

    def test_a_csv_row_creates_a_provider_with_the_scope_and_is_rejected_without(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        content = f"{self.HEADER}\n{self.ROW}\n".encode()
        plain = make_token(session, world.agency_a)
        refused = client.post(CSV_URL, content=content, headers=bearer(plain))
        assert refused.status_code == 400
        row = refused.json()["rows"][0]
        assert "eter PT0044, local AAA:INST-9" in row["errors"]["institutions[0]"][0]
        assert providers_with(session, "eter", "PT0044") == []
        creator = make_token(session, world.agency_a, CREATE)
        answer = client.post(CSV_URL, content=content, headers=bearer(creator))
        assert answer.status_code == 200, answer.text
        (provider_id,) = providers_with(session, "eter", "PT0044")
        provider = session.get(Provider, provider_id)
        assert provider is not None and provider.provider_type == "VET provider"
        assert providers_with(session, "local", "AAA:INST-9") == [provider_id]
