"""The API token pages as an agency editor uses them: create, copy once, see use, revoke."""

from __future__ import annotations

import datetime as dt
import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.submissions.models import ApiToken
from registry.timeutil import utcnow
from tests.conftest import post_form, sign_in
from tests.factories import World

URL = "/api/v1/submissions/results"


def in_a_month() -> str:
    return (utcnow() + dt.timedelta(days=30)).date().isoformat()


def create(client: TestClient, agency_id: int, **changes: str) -> object:
    form = {"name": "quality database", "agency_id": str(agency_id), "expires_on": in_a_month()}
    form.update(changes)
    return post_form(client, "/staff/tokens/", {**form, "scopes": "results:submit"})


class TestTokenPages:
    def test_an_editor_creates_a_token_sees_it_once_and_uses_it(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        page = client.get("/staff/tokens/")
        assert page.status_code == 200 and "No tokens yet." in page.text
        created = create(client, world.agency_a)
        assert created.status_code == 200  # type: ignore[attr-defined]
        assert created.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
        match = re.search(r'<output id="token-secret"><code>(qareg_[A-Za-z0-9_-]+)</code>', created.text)  # type: ignore[attr-defined]
        assert match, created.text  # type: ignore[attr-defined]
        secret = match.group(1)
        listing = client.get("/staff/tokens/").text
        assert secret not in listing and secret[:12] in listing and "never" in listing
        # The secret works as a bearer token: an empty batch is refused for its size, not for the token.
        answer = client.post(URL, json=[], headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 400
        assert "never" not in client.get("/staff/tokens/").text.split("<tbody>")[1].split("</tbody>")[0]

    def test_a_token_may_be_given_the_scope_to_create_providers(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        assert 'value="providers:create"' in client.get("/staff/tokens/").text
        form = {"name": "with providers", "agency_id": str(world.agency_a), "expires_on": in_a_month()}
        created = post_form(client, "/staff/tokens/", {**form, "scopes": ["results:submit", "providers:create"]})
        assert created.status_code == 200
        token = session.exec(select(ApiToken).where(ApiToken.name == "with providers")).one()
        assert token.scopes == ["providers:create", "results:submit"]

    def test_the_form_starts_filled_for_an_editor_of_one_agency(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        page = client.get("/staff/tokens/").text
        assert f'<option value="{world.agency_a}" selected>' in page
        a_year_on = (utcnow() + dt.timedelta(days=365)).date().isoformat()
        assert f'name="expires_on" type="date" value="{a_year_on}"' in page
        assert 'value="results:submit" checked' in page and 'value="results:read" checked' not in page
        imports = client.get("/staff/imports/").text
        assert f'<option value="{world.agency_a}" selected>' in imports

    def test_an_operator_chooses_the_agency(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        page = client.get("/staff/tokens/").text
        assert f'<option value="{world.agency_a}">' in page and " selected>" not in page

    def test_an_editor_cannot_make_tokens_for_another_agency(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        refused = create(client, world.agency_b)
        assert refused.status_code == 400  # type: ignore[attr-defined]
        assert 'id="e-agency_id"' in refused.text  # type: ignore[attr-defined]
        assert session.exec(select(ApiToken)).first() is None

    def test_bad_fields_are_shown_next_to_them(self, client: TestClient, world: World, session: Session) -> None:
        sign_in(client, world.emails["editor_a"])
        refused = post_form(
            client, "/staff/tokens/", {"name": "", "agency_id": str(world.agency_a), "expires_on": "2001-01-01"}
        )
        assert refused.status_code == 400
        for name in ("name", "expires_on", "scopes"):
            assert f'id="e-{name}"' in refused.text
        assert session.exec(select(ApiToken)).first() is None

    def test_reviewers_and_provider_staff_have_no_token_page(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["reviewer_a"])
        assert client.get("/staff/tokens/").status_code == 403
        assert create(client, world.agency_a).status_code == 403  # type: ignore[attr-defined]

    def test_revoking_stops_the_token_and_only_its_agency_may_revoke(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        secret = re.search(r"(qareg_[A-Za-z0-9_-]+)", create(client, world.agency_a).text).group(1)  # type: ignore[attr-defined, union-attr]
        token = session.exec(select(ApiToken)).one()
        client.cookies.clear()
        sign_in(client, world.emails["editor_b"])
        assert post_form(client, f"/staff/tokens/{token.id}/revoke", {}).status_code == 403
        assert str(token.prefix) not in client.get("/staff/tokens/").text
        client.cookies.clear()
        sign_in(client, world.emails["editor_a"])
        assert post_form(client, f"/staff/tokens/{token.id}/revoke", {}).status_code == 303
        assert "revoked" in client.get("/staff/tokens/").text
        answer = client.post(URL, json=[], headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
