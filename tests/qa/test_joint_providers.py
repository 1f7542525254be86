"""Joint programmes name their other providers by name, never by a typed id."""

from __future__ import annotations

import datetime as dt

from litestar.testing import TestClient
from sqlmodel import Session

from registry.providers.services import ProviderInput, create_provider
from registry.qa.services import provider_ids, results_for_provider
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import SETUP, World


def _form(world: World, others: str) -> dict[str, str]:
    return {
        "agency_id": str(world.agency_a),
        "activity_type": "joint programme",
        "status": "voluntary",
        "decision": "positive",
        "valid_from": (today() - dt.timedelta(days=10)).isoformat(),
        "programmes": "Joint MSc | urn:prog:joint | 7 | 120 | 0613 | full",
        "other_providers": others,
    }


def _provider(session: Session, name: str, country: str) -> int:
    made = create_provider(session, ProviderInput(name=name, country=country, provider_type="public HEI"), SETUP)
    session.commit()
    return made.id or 0


class TestJointProviders:
    def test_other_providers_are_named_one_per_line(self, client: TestClient, world: World, session: Session) -> None:
        partner = _provider(session, "Universität Partnerstadt", "DE")
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client, f"/staff/providers/{world.provider_p}/results", _form(world, "universitat partnerstadt")
        )
        assert response.status_code == 303, response.text
        [joint] = [r for r in results_for_provider(session, partner) if r.activity_type == "joint programme"]
        assert provider_ids(session, joint.id or 0) == [world.provider_p, partner]
        edit = client.get(f"/staff/results/{joint.id}/edit").text
        assert "Universität Partnerstadt (DE, public HEI)</textarea>" in edit

    def test_namesakes_and_unknown_names_come_back_with_a_way_to_choose(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        _provider(session, "Hochschule Nord", "DE")
        austrian = _provider(session, "Hochschule Nord", "AT")
        sign_in(client, world.emails["editor_a"])
        path = f"/staff/providers/{world.provider_p}/results"
        refused = post_form(client, path, _form(world, "Hochschule Nord\nNo Such Partner"))
        assert refused.status_code == 400
        assert "line 1: several providers match" in refused.text
        assert "Hochschule Nord (AT, public HEI)" in refused.text
        assert "line 2: no provider is called “No Such Partner”" in refused.text
        assert "Hochschule Nord\nNo Such Partner</textarea>" in refused.text
        chosen = post_form(client, path, _form(world, "Hochschule Nord (AT, public HEI)"))
        assert chosen.status_code == 303
        assert any(r.activity_type == "joint programme" for r in results_for_provider(session, austrian))
