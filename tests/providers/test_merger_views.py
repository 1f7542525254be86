"""Recording a merger through the staff pages, without JavaScript: the successor chosen by its name."""

from __future__ import annotations

import datetime as dt

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.audit.models import AuditEvent
from registry.providers.models import ProviderRelation
from registry.providers.services import ProviderInput, create_provider
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import SETUP, World


def _namesake(session: Session, name: str, country: str) -> int:
    made = create_provider(session, ProviderInput(name=name, country=country, provider_type="private HEI"), SETUP)
    session.commit()
    return made.id or 0


class TestRecordingAMerger:
    def test_an_operator_records_a_merger_by_the_successors_name_and_the_verdicts_follow(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        page = client.get(f"/staff/providers/{world.provider_p}")
        assert f'href="/staff/providers/{world.provider_p}/merger"' in page.text
        merged_on = (today() - dt.timedelta(days=10)).isoformat()
        response = post_form(
            client,
            f"/staff/providers/{world.provider_p}/merger",
            # Accents and case differ from the stored name "Quiet Test Academy".
            {"kind": "absorbed by", "related_provider_id_name": "quiet TEST académy", "valid_from": merged_on},
        )
        assert response.status_code == 303, response.text
        absorbed = client.get(f"/staff/providers/{world.provider_p}").text
        assert f'Alpha Test University</a> absorbed by <a href="/staff/providers/{world.provider_q}">' in absorbed
        assert "Quiet Test Academy</a> on " + merged_on in absorbed
        assert "closed" in absorbed
        # The successor counts the absorbed provider's result from the merger on.
        verdict = client.get("/api/v1/trust", params={"identifier": "did:web:quiet-test.example"}).json()
        assert verdict["status"] == "trusted"
        assert verdict["basis"][0]["inherited_from"] == world.provider_p
        old = client.get("/api/v1/trust", params={"identifier": "did:web:alpha-test.example"}).json()
        assert old["status"] == "closed"
        before = client.get(
            "/api/v1/trust", params={"identifier": "did:web:alpha-test.example", "at": "2025-01-01"}
        ).json()
        assert before["status"] != "closed"
        actions = set(
            session.exec(select(AuditEvent.action).where(AuditEvent.actor_user_id == world.user_ids["operator"])).all()
        )
        assert {"relation.add", "provider.close"} <= actions
        # A provider ends in one merger: the action is gone.
        assert f'href="/staff/providers/{world.provider_p}/merger"' not in absorbed

    def test_namesakes_are_offered_as_a_second_step(self, client: TestClient, world: World, session: Session) -> None:
        first = _namesake(session, "Hochschule Nord", "DE")
        second = _namesake(session, "Hochschule Nord", "AT")
        sign_in(client, world.emails["operator"])
        form = {"kind": "succeeded by", "related_provider_id_name": "Hochschule Nord", "valid_from": "2024-01-01"}
        response = post_form(client, f"/staff/providers/{world.provider_p}/merger", form)
        assert response.status_code == 400
        assert "several providers match" in response.text
        assert f'type="radio" name="related_provider_id" value="{first}"' in response.text
        assert "Hochschule Nord (AT, private HEI)" in response.text
        assert 'value="Hochschule Nord"' in response.text
        chosen = post_form(
            client, f"/staff/providers/{world.provider_p}/merger", {**form, "related_provider_id": str(second)}
        )
        assert chosen.status_code == 303
        page = client.get(f"/staff/providers/{second}").text
        assert "Alpha Test University</a> succeeded by" in page

    def test_mistakes_come_back_next_to_their_fields(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        path = f"/staff/providers/{world.provider_p}/merger"
        unknown = post_form(client, path, {"kind": "absorbed by", "related_provider_id_name": "Nowhere College"})
        assert unknown.status_code == 400
        assert "no successor is called “Nowhere College”" in unknown.text
        itself = post_form(
            client, path, {"kind": "absorbed by", "related_provider_id_name": "Alpha Test University", "valid_from": ""}
        )
        assert "a provider cannot be related to itself" in itself.text
        assert "this field is required" in itself.text or "required" in itself.text
        no_kind = post_form(client, path, {"kind": "parent", "related_provider_id_name": "Quiet Test"})
        assert "choose whether the provider was absorbed or merged into another" in no_kind.text
        bad_date = post_form(
            client, path, {"kind": "absorbed by", "related_provider_id_name": "Quiet Test", "valid_from": "2024-02-30"}
        )
        assert bad_date.status_code == 400
        assert 'id="e-valid_from"' in bad_date.text

    def test_only_operators_record_mergers(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        assert client.get(f"/staff/providers/{world.provider_p}/merger").status_code == 403
        response = post_form(
            client,
            f"/staff/providers/{world.provider_p}/merger",
            {"kind": "absorbed by", "related_provider_id": str(world.provider_q), "valid_from": "2024-01-01"},
        )
        assert response.status_code == 403
        assert "Record a merger" not in client.get(f"/staff/providers/{world.provider_p}").text


class TestWithdrawingAMerger:
    def _merged(self, client: TestClient, world: World, session: Session) -> tuple[str, int]:
        sign_in(client, world.emails["operator"])
        merged_on = (today() - dt.timedelta(days=10)).isoformat()
        response = post_form(
            client,
            f"/staff/providers/{world.provider_p}/merger",
            {"kind": "absorbed by", "related_provider_id_name": "Quiet Test Academy", "valid_from": merged_on},
        )
        assert response.status_code == 303, response.text
        relation = session.exec(select(ProviderRelation).where(ProviderRelation.provider_id == world.provider_p)).one()
        return f"/staff/providers/{world.provider_p}/relations/{relation.id}/withdraw", relation.id or 0

    def test_an_operator_withdraws_a_merger_entered_in_error_and_the_verdicts_follow(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        path, _ = self._merged(client, world, session)
        page = client.get(f"/staff/providers/{world.provider_p}").text
        assert f'href="{path}"' in page
        form = client.get(path)
        assert form.status_code == 200 and "Withdraw relation" in form.text
        missing = post_form(client, path, {"reason": ""})
        assert missing.status_code == 400
        assert 'id="e-reason"' in missing.text
        assert client.get("/api/v1/trust", params={"identifier": "did:web:alpha-test.example"}).json()["status"] == (
            "closed"
        )
        response = post_form(client, path, {"reason": "Recorded for the wrong provider"})
        assert response.status_code == 303, response.text
        page = client.get(f"/staff/providers/{world.provider_p}").text
        assert "<strong>withdrawn</strong>: Recorded for the wrong provider" in page
        assert f'href="{path}"' not in page
        # A merger can be recorded again.
        assert f'href="/staff/providers/{world.provider_p}/merger"' in page
        assert "withdrew, as entered in error, that Alpha Test University was absorbed by Quiet Test Academy" in page
        assert client.get("/api/v1/trust", params={"identifier": "did:web:alpha-test.example"}).json()["status"] != (
            "closed"
        )
        successor = client.get("/api/v1/trust", params={"identifier": "did:web:quiet-test.example"}).json()
        assert all(basis.get("inherited_from") is None for basis in successor["basis"])
        public = client.get(f"/api/v1/providers/{world.provider_p}").json()
        assert public["relations"] == [] and public["closed_on"] is None
        again = post_form(client, path, {"reason": "twice"})
        assert again.status_code == 400 and "Withdrawn on" in again.text

    def test_only_operators_withdraw_and_only_through_the_providers_of_the_relation(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        path, relation_id = self._merged(client, world, session)
        other = _namesake(session, "Hochschule Süd", "DE")
        assert client.get(f"/staff/providers/{other}/relations/{relation_id}/withdraw").status_code == 404
        assert client.get(f"/staff/providers/{world.provider_p}/relations/999999/withdraw").status_code == 404
        post_form(client, "/signout", {})
        sign_in(client, world.emails["editor_a"])
        assert client.get(path).status_code == 403
        assert post_form(client, path, {"reason": "not mine to withdraw"}).status_code == 403
        session.expire_all()
        assert session.get(ProviderRelation, relation_id).withdrawn_at is None  # type: ignore[union-attr]


class TestProviderSuggestions:
    def test_suggestions_ignore_accents_and_tell_namesakes_apart(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        _namesake(session, "Université de Lyon", "FR")
        sign_in(client, world.emails["editor_a"])
        found = client.get("/staff/providers/lookup", params={"q": "universite de ly"}).json()
        assert [item["label"] for item in found] == ["Université de Lyon (FR, private HEI)"]
        assert client.get("/staff/providers/lookup", params={"q": "%"}).json() == []

    def test_suggestions_need_a_signed_in_user(self, client: TestClient, world: World) -> None:
        response = client.get("/staff/providers/lookup", params={"q": "alpha"}, follow_redirects=False)
        assert response.status_code in (302, 303, 401, 403)
