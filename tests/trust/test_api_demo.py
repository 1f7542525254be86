"""The trust lookup API over the demo registry: these pin its behaviour so the hot path can be tuned safely."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from litestar.testing import TestClient
from sqlmodel import Session

from registry.demo.services import CASES, load_demo
from registry.timeutil import today
from registry.trust.signing import ensure_key


@pytest.fixture
def demo(session: Session) -> None:
    load_demo(session)
    # As `registry setup` does; a key created mid-request would vanish with the test's savepoint.
    ensure_key(session)
    session.commit()


def _days(days: int) -> str:
    return (today() + dt.timedelta(days=days)).isoformat()


@pytest.mark.usefixtures("demo")
class TestTrustLookup:
    def test_every_demo_case_answers_its_expected_status(self, client: TestClient) -> None:
        for case in CASES:
            response = client.get("/api/v1/trust", params={"identifier": f"did:web:{case.slug}.example"})
            assert response.status_code == 200, case.slug
            body = response.json()
            assert body["status"] == case.expect, case.slug
            assert body["trusted"] is (case.expect in ("trusted", "trusted_with_conditions"))
            assert body["policy"] == "esg-2015/v1"

    def test_a_trusted_verdict_carries_its_basis_and_links(self, client: TestClient) -> None:
        body = client.get("/api/v1/trust", params={"identifier": "https://northbridge.example/issuer/"}).json()
        assert body["scheme"] == "url"
        assert body["identifier"] == "https://northbridge.example/issuer/"
        assert body["provider"]["name"] == "Northbridge University"
        assert body["links"] == {"provider": f"http://registry.test/providers/{body['provider']['id']}"}
        assert [entry["agency"]["acronym"] for entry in body["basis"]] == ["DAC"]
        assert all("counts_from" not in entry for entry in body["basis"])
        assert body["internal_qa"]["status"] == "accepted"
        assert body["next_review_due"] is not None

    def test_the_past_is_answered_as_it_was(self, client: TestClient) -> None:
        params = {"identifier": "did:web:ridgefield.example", "at": _days(-200)}
        body = client.get("/api/v1/trust", params=params).json()
        assert body["status"] == "trusted"
        assert body["at"] == f"{_days(-200)}T00:00:00Z"

    def test_an_absorbed_provider_keeps_its_old_verdicts(self, client: TestClient) -> None:
        before = client.get("/api/v1/trust", params={"identifier": "DEQARINST9010", "at": _days(-400)}).json()
        after = client.get("/api/v1/trust", params={"identifier": "DEQARINST9010"}).json()
        assert before["status"] == "trusted"
        assert after["status"] == "closed"

    def test_scope_narrows_the_verdict(self, client: TestClient) -> None:
        def status(**params: Any) -> str:
            return str(client.get("/api/v1/trust", params=params).json()["status"])

        assert status(identifier="did:web:chartered.example", eqf_level="7", field="0713") == "trusted"
        assert status(identifier="did:web:chartered.example", eqf_level="8") == "not_covered"
        assert (
            status(identifier="did:web:skillforge.example", programme="urn:demo:skillforge:data-analytics") == "trusted"
        )

    def test_an_unknown_or_claimed_identifier_is_unknown(self, client: TestClient) -> None:
        for identifier in ("did:web:nowhere.example", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"):
            body = client.get("/api/v1/trust", params={"identifier": identifier}).json()
            assert body["status"] == "unknown"
            assert body["provider"] is None
            assert body["reasons"]

    def test_bad_parameters_answer_problem_json_per_field(self, client: TestClient) -> None:
        response = client.get("/api/v1/trust", params={"identifier": "did:web:northbridge.example", "at": "soon"})
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [error["field"] for error in response.json()["errors"]] == ["at"]

    def test_etag_is_stable_and_if_none_match_answers_304(self, client: TestClient) -> None:
        params = {"identifier": "did:web:northbridge.example", "at": "2025-03-10"}
        first = client.get("/api/v1/trust", params=params)
        second = client.get("/api/v1/trust", params=params)
        assert first.headers["etag"] == second.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=300"
        assert first.headers["vary"] == "Accept"
        again = client.get("/api/v1/trust", params=params, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""

    def test_a_signed_verdict_verifies_with_the_published_keys(self, client: TestClient) -> None:
        # An explicit date: without one, `at` is now to the second and the ETag may change between requests.
        params = {"identifier": "DEQARINST9001", "at": _days(0)}
        plain = client.get("/api/v1/trust", params=params)
        signed = client.get("/api/v1/trust", params=params, headers={"Accept": "application/jwt"})
        assert signed.status_code == 200
        assert signed.headers["content-type"].startswith("application/jwt")
        assert signed.headers["etag"] == plain.headers["etag"][:-1] + '-jwt"'
        keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
        token = jws.deserialize_compact(signed.text, keys, algorithms=["ES256"])
        assert token.headers()["typ"] == "trust-verdict+jwt"
        claims = msgspec.json.decode(token.payload)
        assert claims["iss"] == "http://registry.test"
        assert claims["sub"] == "DEQARINST9001"
        assert claims["exp"] - claims["iat"] == 86400
        assert claims["status"] == plain.json()["status"] == "trusted"
        conditional = {"Accept": "application/jwt", "If-None-Match": signed.headers["etag"]}
        not_modified = client.get("/api/v1/trust", params=params, headers=conditional)
        assert not_modified.status_code == 304

    def test_batch_answers_each_query_or_its_error(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/trust/batch",
            json={"queries": [{"identifier": "did:web:northbridge.example"}, {"identifier": ""}]},
        )
        assert response.status_code == 200
        first, second = response.json()["results"]
        assert first["status"] == "trusted"
        assert second["index"] == 1
        assert second["error"]["errors"][0]["field"] == "identifier"

    def test_a_bare_domain_resolves_whatever_its_first_letters(self, client: TestClient) -> None:
        # Unscoped identifiers are tried in every scheme; one that is no VAT prefix must not break that.
        response = client.get("/api/v1/trust", params={"identifier": "pinecrest.example"})
        assert response.status_code == 200
        assert response.json()["scheme"] == "domain"
