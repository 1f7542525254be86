from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, select

from registry.accounts import services
from registry.accounts.models import SignInFailure, User, WebSession
from registry.accounts.services import SignInOutcome
from registry.accounts.throttle import ThrottleLimits, account_key
from registry.audit.models import AuditEvent
from registry.settings import Settings
from registry.timeutil import utcnow
from tests import factories
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
        client.cookies.set("registry_session", session_id or "", domain="registry.test")
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


def alert(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'role="alert".*?<p>(.*?)</p>', response.text, re.S)
    assert found is not None, response.text
    return " ".join(found.group(1).split())


class TestNoUserEnumeration:
    @pytest.fixture
    def verified(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The hashes each sign-in attempt verified a password against."""
        seen: list[str] = []
        real = services._hasher

        class Recording:
            def hash(self, password: str) -> str:
                return real.hash(password)

            def verify(self, password_hash: str, password: str) -> bool:
                seen.append(password_hash)
                return real.verify(password_hash, password)

        monkeypatch.setattr(services, "_hasher", Recording())
        return seen

    def test_every_kind_of_miss_costs_one_argon2_verification_and_reads_the_same(
        self, client: TestClient, world: World, session: Session, verified: list[str]
    ) -> None:
        disabled = factories.user(session, world.user_ids["editor_b"])
        disabled.is_active = False
        passwordless = factories.user(session, world.user_ids["reviewer_a"])
        passwordless.password_hash = None  # signs in through OpenID Connect only
        session.add_all([disabled, passwordless])
        session.commit()
        answers = {}
        for case, email in {
            "unknown": "nobody@nowhere.example",
            "wrong password": world.emails["editor_a"],
            "disabled": world.emails["editor_b"],
            "no password": world.emails["reviewer_a"],
        }.items():
            verified.clear()
            response = sign_in(client, email, "not-the-password")
            assert response.status_code == 400, case
            assert len(verified) == 1, case
            answers[case] = alert(response)
        assert set(answers.values()) == {"The e-mail address or the password is wrong."}

    def test_the_dummy_hash_costs_what_a_real_one_does(self) -> None:
        # argon2's cost lives in the hash's parameters (memory, iterations, lanes).
        assert services._DUMMY_HASH.split("$")[3] == services.hash_password("any password").split("$")[3]

    def test_a_known_account_never_says_locked(self, client: TestClient, world: World) -> None:
        for _ in range(8):
            assert "locked" not in sign_in(client, world.emails["editor_a"], "wrong-password").text


class TestThrottle:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, login_attempts_per_account=3, login_throttle_minutes=15)

    def test_failures_throttle_the_address_for_that_account_with_the_same_words_for_unknown_ones(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        answers = []
        for email in (world.emails["editor_b"], "nobody@nowhere.example"):
            for _ in range(3):
                assert sign_in(client, email, "wrong-password").status_code == 400
            refused = sign_in(client, email)  # even the right password, from here, for now
            assert refused.status_code == 429 and refused.headers["retry-after"] == "900"
            answers.append(alert(refused))
        assert answers[0] == answers[1] and "Wait 15 minutes" in answers[0]
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.throttle")).one()
        assert event.entity_id == world.user_ids["editor_b"]
        assert event.before is not None and event.before["failed_sign_ins"] == 2
        assert event.after is not None and event.after["failed_sign_ins"] == 3

    def test_operators_see_the_failures_and_let_the_account_be_tried_again(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        for _ in range(3):
            sign_in(client, world.emails["editor_b"], "wrong-password")
        operator = TestClient(client.app, base_url="http://registry.test")
        with operator:
            sign_in(operator, world.emails["operator"])
            listing = operator.get("/staff/users/")
            assert "3 failed sign-ins in the last 15 minutes" in listing.text
            assert "Allow sign-in again" in listing.text
            assert post_form(operator, f"/staff/users/{world.user_ids['editor_b']}/unlock", {}).status_code == 303
        assert sign_in(client, world.emails["editor_b"]).status_code == 303
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.unlock")).one()
        assert event.before is not None and event.before["failed_sign_ins"] == 3
        assert event.after is not None and event.after["failed_sign_ins"] == 0


class TestThrottleByAddress:
    """The service decides by client address; the test client has one address, so these call it directly."""

    LIMITS = ThrottleLimits(per_account=3, per_address=5, window=dt.timedelta(minutes=15))

    def attempt(self, session: Session, email: str, client: str, password: str = "wrong-password") -> SignInOutcome:
        return services.authenticate(session, email, password, client=client, limits=self.LIMITS)

    def test_an_attacker_cannot_lock_out_the_owner(self, session: Session, world: World) -> None:
        email = world.emails["editor_b"]
        for _ in range(10):
            self.attempt(session, email, "203.0.113.66")
        assert self.attempt(session, email, "203.0.113.66", PASSWORD).throttled
        owner = self.attempt(session, email, "198.51.100.7", PASSWORD)
        assert owner.user is not None and owner.user.id == world.user_ids["editor_b"]

    def test_one_address_trying_many_accounts_is_throttled(self, session: Session, world: World) -> None:
        for number in range(5):
            assert not self.attempt(session, f"guess{number}@example.org", "203.0.113.9").throttled
        assert self.attempt(session, world.emails["operator"], "203.0.113.9", PASSWORD).throttled
        assert self.attempt(session, world.emails["operator"], "192.0.2.1", PASSWORD).user is not None

    def test_failures_older_than_the_window_count_for_nothing(self, session: Session, world: World) -> None:
        email = world.emails["editor_a"]
        for _ in range(3):
            self.attempt(session, email, "203.0.113.1")
        old = utcnow() - dt.timedelta(minutes=16)
        for failure in session.exec(select(SignInFailure)):
            failure.failed_at = old
            session.add(failure)
        session.flush()
        assert self.attempt(session, email, "203.0.113.1", PASSWORD).user is not None

    def test_typed_addresses_are_kept_only_as_hashes(self, session: Session) -> None:
        self.attempt(session, "my secret password typed in the wrong field", "203.0.113.2")
        kept = session.exec(select(SignInFailure)).one()
        assert kept.account_key == account_key("my secret password typed in the wrong field")
        assert "secret" not in kept.account_key


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
