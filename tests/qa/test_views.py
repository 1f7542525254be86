from __future__ import annotations

import datetime as dt
import re

from litestar.testing import TestClient
from sqlmodel import Session

from registry.qa.services import programmes, results_for_provider
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import World


def _day(offset: int) -> str:
    return (today() + dt.timedelta(days=offset)).isoformat()


def _verdict(client: TestClient, identifier: str, **scope: str) -> str:
    return str(client.get("/api/v1/trust", params={"identifier": identifier, **scope}).json()["status"])


class TestRecordResult:
    def test_errors_are_shown_per_field_and_typed_values_kept(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client,
            f"/staff/providers/{world.provider_q}/results",
            {
                "agency_id": str(world.agency_a),
                "activity_type": "programme",
                "status": "voluntary",
                "decision": "positive",
                "valid_from": _day(0),
                "valid_to": _day(-1),
                "limit_eqf_levels": ["6", "7"],
                "programmes": "Data Analytics | urn:test:da | 6 | 30 | 0613\n | urn:test:nameless",
            },
        )
        assert response.status_code == 400
        assert re.search(r'id="e-valid_to">the end of validity must be after its start', response.text)
        assert re.search(r'id="e-programmes">line 2: a programme needs a name', response.text)
        assert "Data Analytics | urn:test:da | 6 | 30 | 0613" in response.text
        assert re.search(r'value="6" checked', response.text) and re.search(r'value="7" checked', response.text)
        assert 'value="8" checked' not in response.text

    def test_recording_changes_the_verdict_at_once_and_withdrawing_takes_it_back(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        identifier = "did:web:quiet-test.example"
        assert _verdict(client, identifier) == "not_trusted"
        response = post_form(
            client,
            f"/staff/providers/{world.provider_q}/results",
            {
                "agency_id": str(world.agency_a),
                "activity_type": "programme",
                "status": "voluntary",
                "decision": "positive",
                "valid_from": _day(-30),
                "programmes": "Welding Masterclass | urn:test:weld | 5 | 10 | 0715 | partial",
                "report_links": "https://aaa.example/reports/1",
            },
        )
        assert response.status_code == 303
        assert _verdict(client, identifier, programme="urn:test:weld") == "trusted"
        assert _verdict(client, identifier) == "not_covered"
        (result,) = results_for_provider(session, world.provider_q)
        (programme,) = programmes(session, result.id or 0)
        assert (programme.eqf_level, programme.ects, programme.full_degree) == (5, 10.0, False)

        refused = post_form(client, f"/staff/results/{result.id}/withdraw", {"reason": ""})
        assert refused.status_code == 400
        assert "this field is required" in refused.text
        assert (
            post_form(client, f"/staff/results/{result.id}/withdraw", {"reason": "wrong provider"}).status_code == 303
        )
        assert _verdict(client, identifier, programme="urn:test:weld") == "not_trusted"

    def test_revoking_keeps_earlier_verdicts(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        identifier = "did:web:alpha-test.example"
        response = post_form(client, f"/staff/results/{world.result_r}/revoke", {"revoked_from": _day(-10)})
        assert response.status_code == 303
        assert _verdict(client, identifier) == "expired"
        assert _verdict(client, identifier, at=_day(-20)) == "trusted"


class TestEditResult:
    def test_the_form_starts_from_the_record_and_an_edit_changes_the_verdict(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        form = client.get(f"/staff/results/{world.result_r}/edit").text
        assert re.search(r'<option value="positive" selected', form)
        values = {
            "agency_id": str(world.agency_a),
            "activity_type": "institutional",
            "status": "voluntary",
            "decision": "positive with conditions or restrictions",
            "valid_from": _day(-365),
            "valid_to": _day(90),
            "conditions_due": _day(30),
            "version": re.search(r'name="version" value="(\d+)"', form).group(1),  # type: ignore[union-attr]
        }
        assert post_form(client, f"/staff/results/{world.result_r}/edit", values).status_code == 303
        assert _verdict(client, "did:web:alpha-test.example") == "trusted_with_conditions"

    def test_a_stale_edit_is_a_conflict_showing_both_versions(
        self,
        app,
        client: TestClient,
        world: World,
        session: Session,  # type: ignore[no-untyped-def]
    ) -> None:
        base = {
            "agency_id": str(world.agency_a),
            "activity_type": "institutional",
            "status": "voluntary",
            "valid_from": _day(-365),
            "valid_to": _day(90),
            "version": "1",
        }
        with TestClient(app, base_url="http://registry.test") as operator:
            sign_in(operator, world.emails["operator"])
            first = post_form(operator, f"/staff/results/{world.result_r}/edit", {**base, "decision": "negative"})
            assert first.status_code == 303
        sign_in(client, world.emails["editor_a"])
        stale = post_form(client, f"/staff/results/{world.result_r}/edit", {**base, "decision": "not applicable"})
        assert stale.status_code == 409
        assert "changed by someone else" in stale.text
        assert re.search(r"<th scope=\"row\">decision</th><td>negative</td><td>not applicable</td>", stale.text)
        assert _verdict(client, "did:web:alpha-test.example") == "not_trusted"
        assert 'name="version" value="2"' in stale.text
