from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.accounts.models import User
from tests.conftest import post_form, sign_in
from tests.factories import World


class TestAgencyPages:
    def test_a_registration_window_must_end_after_it_starts(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        response = post_form(
            client,
            f"/staff/agencies/{world.agency_b}/registrations",
            {"registered_from": "2024-05-01", "registered_to": "2024-01-01"},
        )
        assert response.status_code == 400
        assert re.search(r'id="e-registered_to">the registration ends before it starts', response.text)
        assert 'value="2024-05-01"' in response.text

    def test_an_agency_form_reports_every_problem_at_once(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        response = post_form(client, "/staff/agencies/", {"name": "", "acronym": "ZZZ", "country": "QQ"})
        assert response.status_code == 400
        assert 'id="e-name"' in response.text and 'id="e-country"' in response.text
        assert 'value="ZZZ"' in response.text


class TestAccountPages:
    def test_operators_create_accounts_mapped_to_an_openid_subject(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        form = {
            "email": "new.editor@aaa.example",
            "display_name": "New Editor",
            "role": "agency editor",
            "agency_id": str(world.agency_a),
            "oidc_subject": "sub-123",
        }
        assert post_form(client, "/staff/users/", form).status_code == 303
        user = session.exec(select(User).where(User.email == "new.editor@aaa.example")).one()
        assert user.oidc_subject == "sub-123" and user.password_hash is None
        duplicate = post_form(client, "/staff/users/", {**form, "email": "other@aaa.example"})
        assert duplicate.status_code == 400
        assert "another account already has this OpenID Connect subject" in duplicate.text
        assert session.exec(select(User).where(User.email == "other@aaa.example")).first() is None

    def test_an_agency_role_needs_an_agency_and_the_password_is_never_echoed(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["operator"])
        response = post_form(
            client,
            "/staff/users/",
            {"email": "x@y.example", "display_name": "X", "role": "agency reviewer", "password": "secret-typed-1"},
        )
        assert response.status_code == 400
        assert "an agency role names an existing agency" in response.text
        assert "secret-typed-1" not in response.text
        assert 'value="x@y.example"' in response.text
