"""TRQP v2 over the demo registry: requests and answers checked against the specification's JSON Schemas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from litestar.testing import TestClient
from sqlmodel import Session

from registry.demo.services import load_demo
from registry.timeutil import today

SCHEMAS = Path(__file__).resolve().parent / "schemas"
BASE = "http://registry.test"
BINDING = json.loads((SCHEMAS / "restful_binding_components.json").read_text())


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _core(name: str) -> Draft202012Validator:
    return _validator(json.loads((SCHEMAS / f"{name}.jsonschema").read_text()))


def _valid(validator: Draft202012Validator, document: Any) -> None:
    errors = [error.message for error in validator.iter_errors(document)]
    assert errors == [], errors


@pytest.fixture
def demo(session: Session) -> None:
    load_demo(session)
    session.commit()


def _days(days: int) -> str:
    return f"{(today() + dt.timedelta(days=days)).isoformat()}T12:00:00Z"


def _authorize(client: TestClient, request: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/trqp/authorization", json=request)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    _valid(_core("trqp_authorization_response"), body)
    _valid(_validator(BINDING["TrqpAuthorizationResponse"]), body)
    return body


@pytest.mark.usefixtures("demo")
class TestAuthorization:
    def test_the_specification_example_shape_answers_as_the_trust_lookup(self, client: TestClient) -> None:
        request = {
            "entity_id": "did:web:chartered.example",
            "authority_id": BASE,
            "assertion_id": "issue",
            "action": "issue",
            "resource": "eqf:7;isced-f:0713",
            "context": {"time": _days(-10)},
        }
        _valid(_core("trqp_authorization_request"), request)
        body = _authorize(client, request)
        verdict = client.get(
            "/api/v1/trust",
            params={"identifier": "did:web:chartered.example", "at": _days(-10), "eqf_level": "7", "field": "0713"},
        ).json()
        assert body["authorized"] is body["assertion_verified"] is verdict["trusted"] is True
        assert body["status"] == verdict["status"] == "trusted"
        assert body["message"] == " ".join(verdict["reasons"])
        assert body["time_evaluated"] == body["time_requested"] == _days(-10)
        assert {key: body[key] for key in request} == request

    def test_scope_and_time_change_the_answer(self, client: TestClient) -> None:
        def answer(entity: str, **extra: Any) -> dict[str, Any]:
            return _authorize(client, {"entity_id": entity, "authority_id": BASE, "action": "issue", **extra})

        assert answer("did:web:chartered.example", resource="eqf:8")["status"] == "not_covered"
        programme = "programme:urn:demo:skillforge:data-analytics"
        assert answer("did:web:skillforge.example", resource=programme)["authorized"] is True
        assert answer("did:web:skillforge.example")["authorized"] is False
        assert answer("did:web:ridgefield.example", context={"time": _days(-200)})["authorized"] is True
        now = answer("did:web:ridgefield.example")
        assert now["authorized"] is False and now["status"] == "expired" and "revoked" in now["message"]

    def test_the_binding_spelling_is_accepted(self, client: TestClient) -> None:
        request = {"entity_id": "did:web:meridian.example", "ecosystem_id": BASE, "assertion_id": "issue"}
        _valid(_validator(BINDING["TrqpAuthorizationQuery"]), request)
        body = _authorize(client, request)
        assert body["ecosystem_id"] == body["authority_id"] == BASE
        assert body["assertion_id"] == body["action"] == "issue"
        assert body["authorized"] is True and body["status"] == "trusted_with_conditions"

    def test_an_agency_as_authority_counts_only_its_own_results(self, client: TestClient) -> None:
        by_dac = _authorize(client, {"entity_id": "did:web:northbridge.example", "authority_id": "DAC"})
        assert by_dac["authorized"] is True
        by_nqa = _authorize(client, {"entity_id": "did:web:northbridge.example", "authority_id": "NQA"})
        assert by_nqa["authorized"] is False and "NQA" in by_nqa["message"]

    def test_unknown_entity_or_authority_is_a_404_problem(self, client: TestClient) -> None:
        for request in (
            {"entity_id": "did:web:nowhere.example", "authority_id": BASE, "action": "issue"},
            {"entity_id": "did:web:northbridge.example", "authority_id": "https://other.example", "action": "issue"},
        ):
            response = client.post("/trqp/authorization", json=request)
            assert response.status_code == 404, request
            assert response.headers["content-type"] == "application/problem+json"
            _valid(_validator(BINDING["ProblemDetails"]), response.json())


class TestMalformedRequests:
    """Refused before any lookup, so no data is needed."""

    @pytest.mark.parametrize(
        ("request_body", "field"),
        [
            ({"authority_id": BASE, "action": "issue"}, "entity_id"),
            ({"entity_id": "did:web:northbridge.example", "action": "issue"}, "authority_id"),
            ({"entity_id": "did:web:northbridge.example", "authority_id": BASE, "action": "delete"}, "action"),
            ({"entity_id": "did:web:northbridge.example", "authority_id": BASE, "resource": "eqf:12"}, "resource"),
            ({"entity_id": "did:web:northbridge.example", "authority_id": BASE, "resource": "colour:red"}, "resource"),
            ({"entity_id": "did:web:x", "authority_id": BASE, "context": {"time": "yesterday"}}, "context.time"),
            (
                {"entity_id": "did:web:x", "authority_id": BASE, "context": {"time": "2025-06-19T11:30:00"}},
                "context.time",
            ),
            ({"entity_id": "did:web:x", "authority_id": BASE, "context": {"time": 5}}, "context"),
            (
                {"entity_id": "did:web:x", "authority_id": BASE, "context": {"time": "9999-99-99T00:00:00Z"}},
                "context.time",
            ),
            (
                {"entity_id": "did:web:x", "authority_id": BASE, "context": {"time": "0001-01-01T00:00:00+01:00"}},
                "context.time",
            ),
            ({"entity_id": ["did:web:x"], "authority_id": BASE}, "entity_id"),
            ({"entity_id": "did:web:x\x00", "authority_id": BASE}, "entity_id"),
            ({"entity_id": "x" * 5000, "authority_id": BASE}, "entity_id"),
            ({"entity_id": "did:web:x", "authority_id": BASE, "ecosystem_id": "other"}, "ecosystem_id"),
            ({"entity_id": "did:web:x", "authority_id": BASE, "action": "issue", "assertion_id": "x"}, "assertion_id"),
        ],
    )
    def test_a_malformed_request_is_a_400_problem_naming_the_field(
        self, client: TestClient, request_body: dict[str, Any], field: str
    ) -> None:
        response = client.post("/trqp/authorization", json=request_body)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        _valid(_validator(BINDING["ProblemDetails"]), body)
        assert field in {error["field"] for error in body["errors"]}, body

    def test_a_body_that_is_not_an_object_is_a_400_problem(self, client: TestClient) -> None:
        for content in (b"[1, 2]", b"not json", b'"text"', b"[" * 5000 + b"]" * 5000):
            response = client.post("/trqp/authorization", content=content, headers={"content-type": "application/json"})
            assert response.status_code == 400, content[:20]
            assert response.headers["content-type"] == "application/problem+json"


def _recognise(client: TestClient, request: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/trqp/recognition", json=request)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    _valid(_core("trqp_recognition_response"), body)
    _valid(_validator(BINDING["TrqpRecognitionResponse"]), body)
    return body


@pytest.mark.usefixtures("demo")
class TestRecognition:
    def test_an_agency_is_recognised_while_registered_on_eqar(self, client: TestClient) -> None:
        request = {
            "entity_id": "DAC",
            "authority_id": BASE,
            "assertion_id": "recognize",
            "action": "recognize",
            "resource": "esg-2015",
        }
        _valid(_core("trqp_recognition_request"), request)
        assert _recognise(client, request)["recognized"] is True
        # ADE's registration ends in 130 days and began 3000 days ago.
        assert _recognise(client, {"entity_id": "ADE", "authority_id": BASE})["recognized"] is True
        later = _recognise(client, {"entity_id": "ADE", "authority_id": BASE, "context": {"time": _days(200)}})
        assert later["recognized"] is False and "not registered" in later["message"]
        earlier = {
            "entity_id": "ade",
            "ecosystem_id": BASE,
            "assertion_id": "recognize",
            "context": {"time": _days(-3100)},
        }
        _valid(_validator(BINDING["TrqpRecognitionQuery"]), earlier)
        assert _recognise(client, earlier)["recognized"] is False
        unlisted = _recognise(client, {"entity_id": "Unlisted Review Bureau (demo, not on EQAR)", "authority_id": BASE})
        assert unlisted["recognized"] is False

    def test_unknown_agency_or_foreign_authority_is_a_404_problem(self, client: TestClient) -> None:
        for request in (
            {"entity_id": "No Such Agency", "authority_id": BASE},
            {"entity_id": "DAC", "authority_id": "did:web:other.example"},
        ):
            response = client.post("/trqp/recognition", json=request)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"

    def test_an_unsupported_resource_is_a_400_problem(self, client: TestClient) -> None:
        response = client.post("/trqp/recognition", json={"entity_id": "DAC", "authority_id": BASE, "resource": "x"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "resource"


class TestMetadata:
    def test_metadata_and_discovery_describe_the_registry(self, client: TestClient) -> None:
        metadata = client.get("/trqp/metadata").json()
        assert metadata["id"] == BASE and metadata["controllers"] == [BASE]
        assert metadata["name"] and metadata["description"]
        assert metadata["governance_framework"] == {"id": "esg-2015/v1", "uri": f"{BASE}/trust-marks/esg-2015"}
        assert metadata["endpoints"]["authorization"] == f"{BASE}/trqp/authorization"
        for path in ("/.well-known/trqp-configuration", "/.well-known/trqp-metadata"):
            assert client.get(path).json() == metadata
        assert client.get("/trust-marks/esg-2015").status_code == 200

    def test_the_openapi_document_describes_the_endpoints(self, client: TestClient) -> None:
        paths = client.get("/schema/openapi.json").json()["paths"]
        for path in (
            "/trqp/authorization",
            "/trqp/recognition",
            "/trqp/metadata",
            "/.well-known/trqp-configuration",
            "/.well-known/openid-federation",
            "/federation/fetch",
            "/federation/list",
            "/federation/resolve",
            "/federation/trust_mark_status",
        ):
            assert path in paths, path
        assert "post" in paths["/trqp/authorization"]
