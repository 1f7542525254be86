"""OpenID Connect sign-in against a real OpenID provider (oidc-provider on node) started here.

The provider's development login accepts any login name as the subject. Skips where node is
missing, except under REGISTRY_TEST_REQUIRE_ALL=1, where it fails.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from registry.accounts import oidc
from registry.accounts.models import User
from registry.settings import Settings
from tests.conftest import free_port
from tests.factories import World

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "registry-test", "registry-test-secret-0123456789"
REDIRECT_URI = "http://registry.test/signin/oidc/callback"
REQUIRE_ALL = os.environ.get("REGISTRY_TEST_REQUIRE_ALL") == "1"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if REQUIRE_ALL:
            pytest.fail("OpenID Connect tests are required here but node/npm are missing")
        pytest.skip("node is missing")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, capture_output=True)
    port = free_port(range(8399, 8299, -1))
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": REDIRECT_URI,
    }
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([node, "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text())
                time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
def settings(settings: Settings, issuer: str) -> Settings:
    return dataclasses.replace(settings, oidc_issuer=issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET)


def _sign_in_at_provider(authorize_url: str, login: str) -> str:
    """Play the user at the provider's login and consent pages; returns the redirect back to us."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(authorize_url)
        for _ in range(10):
            location = response.headers.get("location", "")
            if location.startswith(REDIRECT_URI):
                return location
            if location:
                response = browser.get(httpx.URL(str(response.url)).join(location))
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert action, response.text[:500]
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
            if 'name="login"' in response.text:
                fields |= {"login": login, "password": "any"}
            response = browser.post(httpx.URL(str(response.url)).join(action.group(1)), data=fields)
    raise AssertionError("the provider never sent the browser back")


def _start(client: TestClient) -> str:
    response = client.get("/signin/oidc", params={"next": "/staff/providers/"}, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    # PKCE and nonce are part of every request to the provider.
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["nonce"]
    return location


def _back(client: TestClient, redirect: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(redirect)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


class TestOpenIDConnectSignIn:
    def test_a_mapped_subject_signs_in_with_its_roles(
        self,
        app,
        client: TestClient,
        world: World,
        session: Session,  # type: ignore[no-untyped-def]
    ) -> None:
        user = session.get(User, world.user_ids["reviewer_a"])
        assert user is not None
        user.oidc_subject = "rita-at-idp"
        session.add(user)
        session.commit()
        response = _back(client, _sign_in_at_provider(_start(client), "rita-at-idp"))
        assert response.status_code == 303, response.text[:500]
        assert response.headers["location"] == "/staff/providers/"
        assert "Signed in as reviewer_a" in client.get("/staff").text

    def test_a_verified_email_binds_the_subject_on_first_sign_in(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        # The provider asserts <login>@idp.example as a verified e-mail.
        user = session.get(User, world.user_ids["editor_b"])
        assert user is not None
        user.email = "eddie@idp.example"
        session.add(user)
        session.commit()
        assert _back(client, _sign_in_at_provider(_start(client), "eddie")).status_code == 303
        session.expire_all()
        assert session.get(User, world.user_ids["editor_b"]).oidc_subject == "eddie"  # type: ignore[union-attr]

    def test_an_unmapped_identity_is_refused(self, client: TestClient, world: World) -> None:
        response = _back(client, _sign_in_at_provider(_start(client), "stranger"))
        assert response.status_code == 400
        assert "not registered here" in response.text
        assert client.get("/staff", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303

    def test_a_callback_with_a_foreign_state_is_refused(self, client: TestClient, world: World) -> None:
        redirect = _sign_in_at_provider(_start(client), "rita-at-idp")
        forged = re.sub(r"state=[^&]+", "state=forged", redirect)
        assert _back(client, forged).status_code == 400


class TestIDTokenChecks:
    """The checks on the ID token itself, against tokens the real provider's keys did not sign."""

    def test_a_token_signed_by_another_key_or_with_the_wrong_nonce_is_rejected(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from joserfc import jwt
        from joserfc.jwk import KeySet, RSAKey

        ours = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        keys = KeySet([ours]).as_dict(private=False)
        discovery = {"token_endpoint": "x", "authorization_endpoint": "y"}
        monkeypatch.setattr(oidc, "_metadata", lambda _settings: (discovery, keys))
        now = int(time.time())
        good = {"iss": settings.oidc_issuer, "aud": CLIENT_ID, "sub": "s", "nonce": "n1", "exp": now + 60, "iat": now}
        cases = {
            "signed by another key": (good, stranger),
            "wrong nonce": ({**good, "nonce": "other"}, ours),
            "wrong audience": ({**good, "aud": "someone-else"}, ours),
            "wrong issuer": ({**good, "iss": "https://evil.example"}, ours),
            "expired": ({**good, "exp": now - 3600}, ours),
        }
        for case, (claims, key) in {**cases, "valid": (good, ours)}.items():
            token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

            class _Client:
                def __init__(self, *args: object, **kwargs: object) -> None: ...
                def __enter__(self) -> _Client:
                    return self

                def __exit__(self, *args: object) -> None: ...
                def fetch_token(self, *args: object, **kwargs: object) -> dict[str, str]:
                    return {"id_token": token, "access_token": "a"}  # noqa: B023 - used within the iteration

            monkeypatch.setattr(oidc, "OAuth2Client", _Client)
            pending = {"state": "st", "nonce": "n1", "verifier": "v"}
            if case == "valid":
                assert oidc.complete(settings, pending, code="c", state="st").subject == "s"
            else:
                with pytest.raises(oidc.OIDCError):
                    oidc.complete(settings, pending, code="c", state="st")


class TestUnreachableProvider:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        # Nothing listens on port 9 (discard) on the test machine's loopback.
        return dataclasses.replace(settings, oidc_issuer="http://127.0.0.1:9", oidc_client_id="x")

    def test_sign_in_explains_instead_of_failing(self, client: TestClient) -> None:
        response = client.get("/signin/oidc", follow_redirects=False)
        assert response.status_code == 503
        assert "cannot be reached right now" in response.text
