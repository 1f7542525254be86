from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, select

from registry.accounts.models import User, WebSession
from registry.audit.models import AuditEvent
from registry.settings import Settings
from tests.conftest import PASSWORD, post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


class TestSignIn:
    def test_signs_in_with_the_right_password_and_reaches_the_dashboard(self, client: TestClient, world: World) -> None:
        response = sign_in(client, world.emails["editor_a"])
        assert response.status_code == 303
        assert response.headers["location"] == "/staff"
        page = client.get("/staff")
        assert page.status_code == 200
        assert "Signed in as editor_a" in page.text

    def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
        self, client: TestClient, world: World
    ) -> None:
        response = sign_in(client, world.emails["editor_a"], "not-the-password")
        assert response.status_code == 400
        assert "The e-mail address or the password is wrong." in response.text
        assert client.get("/staff", headers=HTML, follow_redirects=False).status_code == 303

    def test_session_id_is_rotated_at_sign_in_and_the_old_one_forgotten(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        client.get("/signin")
        # A session that existed before sign-in (e.g. planted by an attacker) must not become the signed-in one.
        client.cookies.set("registry_session", "f" * 64, domain="registry.test")
        session.add(WebSession(id="f" * 64, data=b'{"planted": true}'))
        session.commit()
        sign_in(client, world.emails["operator"])
        new_id = client.cookies.get("registry_session")
        assert new_id and new_id != "f" * 64
        session.expire_all()
        assert session.get(WebSession, "f" * 64) is None
        assert session.get(WebSession, new_id) is not None

    def test_session_cookie_is_httponly_and_lax(self, client: TestClient, world: World) -> None:
        response = sign_in(client, world.emails["operator"])
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("registry_session="))
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
        assert "Secure" not in cookie

    def test_sign_out_ends_the_server_session(self, client: TestClient, world: World, session: Session) -> None:
        sign_in(client, world.emails["operator"])
        session_id = client.cookies.get("registry_session")
        assert session_id is not None
        response = post_form(client, "/signout", {})
        assert response.status_code == 303
        session.expire_all()
        assert session.get(WebSession, session_id) is None
        # Replaying the old cookie no longer signs anyone in.
        client.cookies.set("registry_session", session_id, domain="registry.test")
        assert client.get("/staff", headers=HTML, follow_redirects=False).status_code == 303

    def test_forms_without_a_csrf_token_are_refused(self, client: TestClient, world: World) -> None:
        client.get("/signin")
        response = client.post("/signin", data={"email": world.emails["operator"], "password": PASSWORD})
        assert response.status_code == 403

    def test_next_never_leaves_the_site(self, client: TestClient, world: World) -> None:
        client.get("/signin")
        response = client.post(
            "/signin",
            data={
                "email": world.emails["operator"],
                "password": PASSWORD,
                "next": "//evil.example/",
                "_csrf_token": client.cookies.get("registry_csrf"),
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/staff"

    def test_disabled_account_is_signed_out_on_its_next_request(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        user = session.get(User, world.user_ids["editor_a"])
        assert user is not None
        user.is_active = False
        session.add(user)
        session.commit()
        assert client.get("/staff", headers=HTML, follow_redirects=False).status_code == 303


class TestLockout:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, login_lock_attempts=3, login_lock_minutes=15)

    def test_repeated_failures_lock_the_account_even_for_the_right_password(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        email = world.emails["editor_b"]
        for _ in range(3):
            assert sign_in(client, email, "wrong-password").status_code == 400
        response = sign_in(client, email)
        assert response.status_code == 400
        assert "locked" in response.text
        session.expire_all()
        user = session.get(User, world.user_ids["editor_b"])
        assert user is not None and user.locked_until is not None and user.failed_logins == 3
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "user.lock")).first() is not None

    def test_operators_see_the_lock_and_can_lift_it(self, client: TestClient, world: World) -> None:
        for _ in range(3):
            sign_in(client, world.emails["editor_b"], "wrong-password")
        operator = TestClient(client.app, base_url="http://registry.test")
        with operator:
            sign_in(operator, world.emails["operator"])
            listing = operator.get("/staff/users/")
            assert "locked" in listing.text
            assert post_form(operator, f"/staff/users/{world.user_ids['editor_b']}/unlock", {}).status_code == 303
        assert sign_in(client, world.emails["editor_b"]).status_code == 303


class TestPasswordChange:
    def test_changes_the_password_after_checking_the_current_one(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["reviewer_a"])
        wrong = post_form(
            client,
            "/account/password",
            {"current_password": "nope", "new_password": "a-new-password-1", "repeat_password": "a-new-password-1"},
        )
        assert wrong.status_code == 400
        assert "this is not your current password" in wrong.text
        ok = post_form(
            client,
            "/account/password",
            {"current_password": PASSWORD, "new_password": "a-new-password-1", "repeat_password": "a-new-password-1"},
        )
        assert ok.status_code == 303
        post_form(client, "/signout", {})
        assert sign_in(client, world.emails["reviewer_a"]).status_code == 400
        assert sign_in(client, world.emails["reviewer_a"], "a-new-password-1").status_code == 303


class TestOtherSessions:
    def test_a_password_change_signs_the_account_out_everywhere_else(
        self,
        app,
        client: TestClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        with TestClient(app, base_url="http://registry.test") as elsewhere:
            sign_in(elsewhere, world.emails["staff_p"])
            sign_in(client, world.emails["staff_p"])
            new = {"current_password": PASSWORD, "new_password": "brand-new-pass", "repeat_password": "brand-new-pass"}
            assert post_form(client, "/account/password", new).status_code == 303
            assert client.get("/staff", headers=HTML, follow_redirects=False).status_code == 200
            assert elsewhere.get("/staff", headers=HTML, follow_redirects=False).status_code == 303

    def test_disabling_an_account_deletes_its_sessions(
        self,
        app,
        client: TestClient,
        world: World,
        session: Session,  # type: ignore[no-untyped-def]
    ) -> None:
        sign_in(client, world.emails["editor_b"])
        with TestClient(app, base_url="http://registry.test") as operator:
            sign_in(operator, world.emails["operator"])
            assert post_form(operator, f"/staff/users/{world.user_ids['editor_b']}/disable", {}).status_code == 303
        session.expire_all()
        assert not session.exec(select(WebSession).where(WebSession.user_id == world.user_ids["editor_b"])).all()


class TestSecureCookies:
    @pytest.fixture
    def app(self, settings: Settings, connection: Connection):  # type: ignore[no-untyped-def]
        from registry.app import create_app

        return create_app(dataclasses.replace(settings, base_url="https://registry.test"), bind=connection)

    def test_cookies_are_secure_when_the_registry_is_served_over_https(self, app, world: World) -> None:  # type: ignore[no-untyped-def]
        with TestClient(app, base_url="https://registry.test") as client:
            response = sign_in(client, world.emails["operator"])
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("registry_session="))
        assert "Secure" in cookie


class TestAnonymousVisitors:
    def test_public_pages_create_no_session(self, client: TestClient, session: Session) -> None:
        before = len(session.exec(select(WebSession)).all())
        response = client.get("/providers/", headers=HTML)
        assert response.status_code == 200
        assert not any(h.startswith("registry_session=") for h in response.headers.get_list("set-cookie"))
        session.expire_all()
        assert len(session.exec(select(WebSession)).all()) == before
