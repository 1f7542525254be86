"""Input no handler could use is refused before any handler runs: NUL characters, ids out of range."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.providers.models import ProviderName
from tests import factories as f
from tests.conftest import post_form, sign_in
from tests.factories import World

PROBLEM = "application/problem+json"
HTML = {"accept": "text/html"}
TOO_BIG = 2**63


def _nul_refused(response, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"].endswith("/problems/invalid-input")
    assert field in {error["field"] for error in body["errors"]}, body


class TestNulCharacters:
    def test_in_a_trust_lookup(self, client: TestClient) -> None:
        _nul_refused(client.get("/api/v1/trust", params={"identifier": "https://a.example/x\x00y"}), "identifier")

    def test_in_a_batch_query(self, client: TestClient) -> None:
        queries = [{"identifier": "did:web:fine.example"}, {"identifier": "https://a.example/x\x00y"}]
        _nul_refused(client.post("/api/v1/trust/batch", json={"queries": queries}), "queries[1].identifier")

    def test_in_the_provider_search_api(self, client: TestClient) -> None:
        _nul_refused(client.get("/api/v1/providers", params={"q": "Alpha\x00"}), "q")

    def test_in_the_provider_search_page(self, client: TestClient) -> None:
        response = client.get("/providers", params={"q": "Alpha\x00"}, headers=HTML)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "NUL character" in response.text and "q:" in response.text

    def test_in_the_request_entry_form_the_message_is_next_to_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        data = {"name": "Null\x00 College", "country": "DE", "provider_type": "public HEI", "contact": "me"}
        response = post_form(client, "/request-entry", data, headers=HTML)
        assert response.status_code == 400
        assert re.search(r'<p class="field-error" id="e-name">contains a NUL character', response.text)
        assert 'value="Null College"' in response.text
        assert session.exec(select(ProviderName).where(ProviderName.name == "Null College")).first() is None

    def test_a_form_posted_by_a_program_keeps_the_problem_answer(self, client: TestClient) -> None:
        data = {"name": "Null\x00 College", "country": "DE", "provider_type": "public HEI", "contact": "me"}
        _nul_refused(post_form(client, "/request-entry", data), "name")

    def test_in_the_sign_in_form(self, client: TestClient, world: World) -> None:
        response = post_form(client, "/signin", {"email": world.emails["operator"] + "\x00", "password": "x"})
        assert response.status_code == 400
        assert "NUL character" in response.text and "email" in response.text

    def test_in_a_multipart_text_field_but_not_in_the_file(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        page = client.get(f"/staff/results/{world.result_r}/reports", headers=HTML)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        pdf_with_nul = f.pdf_document(4096)
        assert b"\x00" in pdf_with_nul

        def upload(extra: dict[str, str]):  # type: ignore[no-untyped-def]
            return client.post(
                f"/staff/results/{world.result_r}/reports",
                data={"_csrf_token": token.group(1), **extra},
                files={"file": ("report.pdf", pdf_with_nul, "application/pdf")},
                headers=HTML,
                follow_redirects=False,
            )

        refused = upload({"note": "a\x00b"})
        assert refused.status_code == 400
        assert '<p class="field-error">note: contains a NUL character' in refused.text
        assert upload({}).status_code == 303

    def test_text_without_one_still_passes(self, client: TestClient) -> None:
        assert client.get("/api/v1/providers", params={"q": "Alpha"}).status_code == 200


def _int_routes(app: Litestar) -> list[str]:
    """Every GET path with an integer id in it, e.g. /providers/{provider_id:int}."""
    paths = []
    for route in app.routes:
        if "{" in route.path and ":int}" in route.path and "GET" in getattr(route, "methods", set()):
            paths.append(route.path)
    return sorted(set(paths))


class TestIdsOutOfRange:
    @pytest.mark.parametrize(
        "path",
        [
            f"/api/v1/providers/{TOO_BIG}",
            f"/api/v1/providers/{TOO_BIG}/status-events",
            f"/providers/{TOO_BIG}",
            f"/reports/{TOO_BIG}",
        ],
    )
    def test_public_paths_answer_not_found(self, client: TestClient, path: str) -> None:
        response = client.get(path)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        page = client.get(path, headers=HTML)
        assert page.status_code == 404
        assert "Not found" in page.text

    def test_every_id_path_answers_not_found(self, app: Litestar, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        paths = _int_routes(app)
        assert len(paths) > 10
        for template in paths:
            path = re.sub(r"\{[a-z_]+:int\}", str(TOO_BIG), template)
            assert client.get(path).status_code == 404, path
            assert client.get(re.sub(r"\{[a-z_]+:int\}", "-1", template)).status_code == 404, path

    @pytest.mark.parametrize("provider_id", [2**31 - 1, 2**31, 2**63 - 1])
    def test_ids_beyond_the_id_column_are_simply_not_there(self, client: TestClient, provider_id: int) -> None:
        assert client.get(f"/api/v1/providers/{provider_id}").status_code == 404
