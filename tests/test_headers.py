"""Security headers on the HTML pages, the API and the OpenAPI UI."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection

from registry.settings import Settings
from tests.conftest import sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


def assert_page_headers(response) -> None:  # type: ignore[no-untyped-def]
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


class TestPageHeaders:
    @pytest.mark.parametrize("path", ["/", "/providers/", "/signin", "/request-entry", "/schema", "/no-such-page"])
    def test_public_pages(self, client: TestClient, path: str) -> None:
        response = client.get(path, headers=HTML)
        assert response.headers["content-type"].startswith("text/html")
        assert_page_headers(response)
        assert "strict-transport-security" not in response.headers

    def test_public_pages_may_be_cached_but_staff_pages_never(self, client: TestClient, world: World) -> None:
        assert "no-store" not in client.get("/providers/", headers=HTML).headers.get("cache-control", "")
        assert client.get("/signin", headers=HTML).headers["cache-control"] == "no-store"
        sign_in(client, world.emails["operator"])
        for path in ("/staff", "/staff/users/", "/account/password", f"/staff/providers/{world.provider_p}"):
            response = client.get(path, headers=HTML)
            assert response.status_code == 200, path
            assert_page_headers(response)
            assert response.headers["cache-control"] == "no-store", path

    def test_the_api_is_not_sniffed_or_framed(self, client: TestClient) -> None:
        response = client.get("/api/v1/trust", params={"identifier": "did:web:nobody.example"})
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"

    def test_the_openapi_ui_has_no_inline_script(self, client: TestClient) -> None:
        page = client.get("/schema").text
        assert '<script src="/static/api-docs.js"></script>' in page
        assert "<script>" not in page and "<style" not in page and "style=" not in page
        assert client.get("/static/api-docs.js").status_code == 200
        assert client.get("/schema/openapi.json").json()["info"]["title"] == "Provider QA Registry"


class TestHttps:
    @pytest.fixture
    def app(self, settings: Settings, connection: Connection):  # type: ignore[no-untyped-def]
        from registry.app import create_app

        return create_app(dataclasses.replace(settings, base_url="https://registry.test"), bind=connection)

    def test_hsts_when_the_base_url_is_https(self, app) -> None:  # type: ignore[no-untyped-def]
        with TestClient(app, base_url="https://registry.test") as client:
            response = client.get("/", headers=HTML)
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
