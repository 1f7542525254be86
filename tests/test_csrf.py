"""CSRF tokens are bound to the signed-in session: a valid token from another session is refused."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.conftest import post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}
NEW_PASSWORD = {"current_password": "x", "new_password": "y" * 12, "repeat_password": "y" * 12}


class TestSessionBoundTokens:
    def test_a_token_from_another_session_is_refused(self, app, client: TestClient, world: World) -> None:  # type: ignore[no-untyped-def]
        sign_in(client, world.emails["editor_a"])
        with TestClient(app, base_url="http://registry.test") as attacker:
            sign_in(attacker, world.emails["editor_b"])
            attacker.get("/staff", headers=HTML)
            foreign = attacker.cookies.get("registry_csrf")
        assert foreign and foreign != client.cookies.get("registry_csrf")
        # The attacker's own, correctly signed cookie and token, planted in the victim's browser.
        client.cookies.set("registry_csrf", foreign, domain="registry.test")
        response = client.post("/signout", data={"_csrf_token": foreign}, headers=HTML, follow_redirects=False)
        assert response.status_code == 403
        assert client.get("/staff", headers=HTML, follow_redirects=False).status_code == 200

    def test_sign_in_issues_a_new_token_that_the_forms_carry(self, client: TestClient, world: World) -> None:
        client.get("/signin")
        before = client.cookies.get("registry_csrf")
        response = sign_in(client, world.emails["editor_a"])
        after = client.cookies.get("registry_csrf")
        assert response.status_code == 303 and after and after != before
        page = client.get("/account/password", headers=HTML)
        assert f'value="{after}"' in page.text
        # The pre-sign-in token (which an attacker could have planted) no longer works.
        client.cookies.set("registry_csrf", before or "", domain="registry.test")
        refused = client.post("/signout", data={"_csrf_token": before}, headers=HTML, follow_redirects=False)
        assert refused.status_code == 403

    def test_the_sessions_own_token_works(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        client.get("/staff", headers=HTML)
        assert post_form(client, "/signout", {}).status_code == 303

    def test_anonymous_forms_keep_the_double_submit_check(self, client: TestClient) -> None:
        client.get("/signin")
        assert client.post("/signin", data={"email": "a@b.example", "password": "x"}).status_code == 403
