from __future__ import annotations

import datetime as dt
import re

from litestar.testing import TestClient
from sqlmodel import Session

from registry.providers.services import current_name, get_provider
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import World


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="e-{re.escape(field)}">([^<]*)</p>', html)
    return match.group(1) if match else ""


def _value(html: str, field: str) -> str:
    match = re.search(
        rf'<input id="f-{re.escape(field)}" name="{re.escape(field)}" type="[a-z]+" value="([^"]*)"', html
    )
    return match.group(1) if match else ""


class TestProviderForm:
    def test_invalid_input_comes_back_with_messages_next_to_the_fields_and_the_typed_values(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client,
            "/staff/providers/",
            {"name": "", "country": "XX", "provider_type": "public HEI", "website": "https://typed.example/"},
        )
        assert response.status_code == 400
        assert _field_error(response.text, "name") == "this field is required"
        assert "is not an ISO 3166 two-letter country code" in _field_error(response.text, "country")
        assert _value(response.text, "website") == "https://typed.example/"
        assert _value(response.text, "country") == "XX"
        assert 'aria-invalid="true"' in response.text

    def test_a_created_provider_gets_its_page_and_resolves_in_the_trust_api(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client,
            "/staff/providers/",
            {
                "name": "Brand New College",
                "country": "NL",
                "provider_type": "private HEI",
                "scheme": "did",
                "value": "did:web:brand-new.example",
            },
        )
        assert response.status_code == 303
        page = client.get(response.headers["location"])
        assert "Brand New College" in page.text
        verdict = client.get("/api/v1/trust", params={"identifier": "did:web:brand-new.example"}).json()
        assert verdict["status"] == "not_trusted"


class TestEditConflict:
    def test_a_stale_form_gets_a_conflict_page_and_never_overwrites(
        self,
        app,
        client: TestClient,
        world: World,
        session: Session,  # type: ignore[no-untyped-def]
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        form = client.get(f"/staff/providers/{world.provider_p}/edit")
        version = re.search(r'name="version" value="(\d+)"', form.text).group(1)  # type: ignore[union-attr]
        fields = {"country": "DE", "provider_type": "public HEI", "version": version}
        with TestClient(app, base_url="http://registry.test") as other:
            sign_in(other, world.emails["operator"])
            first = post_form(other, f"/staff/providers/{world.provider_p}/edit", {**fields, "name": "Operator's Name"})
            assert first.status_code == 303
        stale = post_form(client, f"/staff/providers/{world.provider_p}/edit", {**fields, "name": "Editor's Name"})
        assert stale.status_code == 409
        assert "Someone else changed this provider" in stale.text
        assert "Operator&#39;s Name" in stale.text and "Editor&#39;s Name" in stale.text
        session.expire_all()
        assert current_name(session, world.provider_p).name == "Operator's Name"  # type: ignore[union-attr]
        # The conflict page offers the edit again over the current version; saving it is a deliberate choice.
        current = re.search(r'name="version" value="(\d+)"', stale.text).group(1)  # type: ignore[union-attr]
        assert int(current) == get_provider(session, world.provider_p).version
        again = post_form(
            client, f"/staff/providers/{world.provider_p}/edit", {**fields, "name": "Editor's Name", "version": current}
        )
        assert again.status_code == 303
        session.expire_all()
        assert current_name(session, world.provider_p).name == "Editor's Name"  # type: ignore[union-attr]

    def test_the_provider_page_shows_the_change_with_before_and_after(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        post_form(
            client,
            f"/staff/providers/{world.provider_p}/edit",
            {"name": "Alpha Test University", "country": "DE", "provider_type": "private HEI", "version": "1"},
        )
        page = client.get(f"/staff/providers/{world.provider_p}").text
        assert "provider.update" not in page
        assert "edited Alpha Test University" in page
        assert "<strong>type</strong>: <del>public HEI</del> → <ins>private HEI</ins>" in page
        # Unchanged fields and bookkeeping stay out of the edit's row.
        edit_row = re.search(
            r"<tr><td>[^<]*</td><td>operator</td><td>edited Alpha Test University</td>.*?</tr>", page, re.S
        )
        assert edit_row is not None
        assert "<strong>country</strong>" not in edit_row.group(0)
        assert "<strong>version</strong>" not in edit_row.group(0)


class TestIdentifiers:
    def test_provider_staff_only_claim_identifiers_which_do_not_resolve(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        response = post_form(
            client,
            f"/staff/providers/{world.provider_p}/identifiers",
            {"scheme": "did", "value": "did:web:claim.example"},
        )
        assert response.status_code == 303
        assert "claimed" in client.get(f"/staff/providers/{world.provider_p}").text
        verdict = client.get("/api/v1/trust", params={"identifier": "did:web:claim.example"}).json()
        assert verdict["status"] == "unknown"

    def test_a_bad_identifier_is_explained_next_to_the_field(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client, f"/staff/providers/{world.provider_p}/identifiers", {"scheme": "deqar", "value": "nonsense"}
        )
        assert response.status_code == 400
        assert "DEQARINST" in _field_error(response.text, "value")
        assert _value(response.text, "value") == "nonsense"


class TestSuspension:
    def test_suspending_shows_in_the_trust_api_at_once_and_ending_it_restores(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["operator"])
        identifier = {"identifier": "did:web:alpha-test.example"}
        assert client.get("/api/v1/trust", params=identifier).json()["status"] == "trusted"
        yesterday = (today() - dt.timedelta(days=1)).isoformat()
        response = post_form(
            client, f"/staff/providers/{world.provider_p}/suspend", {"suspended_from": yesterday, "reason": "inquiry"}
        )
        assert response.status_code == 303
        assert client.get("/api/v1/trust", params=identifier).json()["status"] == "suspended"
        page = client.get(f"/staff/providers/{world.provider_p}").text
        action = re.search(r'action="(/staff/providers/\d+/suspensions/\d+/end)"', page).group(1)  # type: ignore[union-attr]
        assert post_form(client, action, {"ends_on": yesterday}).status_code == 400  # must end after it starts
        assert post_form(client, action, {"ends_on": today().isoformat()}).status_code == 303
        assert client.get("/api/v1/trust", params=identifier).json()["status"] == "trusted"
