"""Public pages, the OpenAPI document and its UI (served without a CDN), and error pages."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session

from tests import factories as f

HTML = {"Accept": "text/html"}


class TestPublicPages:
    def test_home(self, client: TestClient) -> None:
        response = client.get("/", headers=HTML)
        assert response.status_code == 200
        assert "Provider QA Registry" in response.text

    def test_provider_search_and_page(self, session: Session, client: TestClient) -> None:
        provider = f.provider(session, name="Searchable Institute")
        f.result(session, f.agency(session, acronym="SRCH"), [provider], valid_from="2020-01-01", valid_to="2099-01-01")
        session.commit()
        listing = client.get("/providers/", params={"q": "Searchable"}, headers=HTML)
        assert listing.status_code == 200
        assert "Searchable Institute" in listing.text
        assert f'href="/providers/{provider.id}"' in listing.text
        page = client.get(f"/providers/{provider.id}", headers=HTML)
        assert page.status_code == 200
        assert "Searchable Institute" in page.text
        assert "status-trusted" in page.text
        assert "SRCH" in page.text

    def test_search_by_identifier_and_status_filter(self, session: Session, client: TestClient) -> None:
        provider = f.provider(session, identifiers=[{"scheme": "deqar", "value": "DEQARINST4242"}])
        session.commit()
        found = client.get("/api/v1/providers", params={"q": "deqarinst4242"}).json()
        assert [item["id"] for item in found["items"]] == [provider.id]
        assert found["items"][0]["status"] == "not_trusted"
        trusted = client.get("/api/v1/providers", params={"q": "deqarinst4242", "status": "trusted"}).json()
        assert trusted["total"] == 0

    def test_provider_entry_as_json(self, session: Session, client: TestClient) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], valid_from="2020-01-01", valid_to="2099-01-01")
        session.commit()
        entry = client.get(f"/api/v1/providers/{provider.id}").json()
        assert entry["verdict"]["status"] == "trusted"
        assert {i["scheme"] for i in entry["identifiers"]} == {"did", "domain"}
        assert entry["results"][0]["decision"] == "positive"

    def test_unknown_provider_is_404_in_both_forms(self, client: TestClient) -> None:
        page = client.get("/providers/999999", headers=HTML)
        assert page.status_code == 404
        assert "Not found" in page.text and "<html" in page.text
        api = client.get("/api/v1/providers/999999")
        assert api.status_code == 404
        assert api.headers["content-type"].startswith("application/problem+json")

    def test_bad_page_number_is_a_problem(self, client: TestClient) -> None:
        response = client.get("/api/v1/providers", params={"page": "zero"})
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")


class TestOpenAPI:
    def test_document_lists_every_public_endpoint_with_examples(self, client: TestClient) -> None:
        document = client.get("/schema/openapi.json").json()
        paths = document["paths"]
        assert {
            "/api/v1/trust",
            "/api/v1/trust/batch",
            "/api/v1/providers",
            "/api/v1/providers/{provider_id}",
            "/.well-known/jwks.json",
        } <= set(paths)
        identifier = next(p for p in paths["/api/v1/trust"]["get"]["parameters"] if p["name"] == "identifier")
        assert identifier["examples"]

    def test_interactive_ui_uses_installed_assets_only(self, client: TestClient) -> None:
        page = client.get("/schema")
        assert page.status_code == 200
        assert "/static/swagger/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower() and "unpkg" not in page.text.lower()
        # Every script comes from the registry itself; none is inline.
        assert re.findall(r"<script[^>]*>", page.text) == [
            '<script src="/static/swagger/swagger-ui-bundle.js">',
            '<script src="/static/api-docs.js">',
        ]
        assert client.get("/static/api-docs.js").status_code == 200
        asset = client.get("/static/swagger/swagger-ui-bundle.js")
        assert asset.status_code == 200 and len(asset.content) > 100_000
        # Swagger UI 5 reads OpenAPI 3.1, the version of the registry's document; 4.x showed an error instead.
        assert b"isOAS31" in asset.content
        assert client.get("/schema/openapi.json").json()["openapi"].startswith("3.1")

    def test_the_documentation_page_has_a_language_a_main_landmark_and_a_heading(self, client: TestClient) -> None:
        page = client.get("/schema").text
        assert '<html lang="en">' in page
        assert re.search(r'<main id="main">\s*<h1>Provider QA Registry: API documentation</h1>', page)


def test_every_api_operation_has_parameter_examples(client: TestClient) -> None:
    document = client.get("/schema/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in {"identifier", "q", "provider_id", "at", "country"}:
                    assert parameter.get("examples"), f"{method.upper()} {path} {parameter['name']} has no example"
