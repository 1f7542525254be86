"""The verifier's HTTP contract: JSON and signed verdicts, caching, errors, batch, fail-closed."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from litestar.testing import TestClient
from sqlmodel import Session

from registry.app import create_app
from registry.settings import Settings
from registry.trust import signing
from tests import factories as f


@pytest.fixture
def trusted(session: Session) -> str:
    provider = f.provider(
        session,
        identifiers=[
            {"scheme": "did", "value": "did:web:api-test.example"},
            {"scheme": "deqar", "value": "DEQARINST5555"},
        ],
    )
    f.result(
        session,
        f.agency(session),
        [provider],
        valid_from="2020-01-01",
        valid_to="2099-12-31",
        report_links=["https://agency.example/report.pdf"],
    )
    session.commit()
    return "did:web:api-test.example"


class TestLookup:
    def test_trusted_verdict_has_the_documented_shape(self, client: TestClient, trusted: str) -> None:
        response = client.get("/api/v1/trust", params={"identifier": trusted, "at": "2025-03-10"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["identifier"] == trusted
        assert body["scheme"] == "did"
        assert body["at"] == "2025-03-10T00:00:00Z"
        assert body["policy"] == "esg-2015/v1"
        assert (body["trusted"], body["status"]) == (True, "trusted")
        assert set(body["provider"]) == {"id", "name", "country", "type", "url"}
        assert body["basis"][0]["report_url"] == "https://agency.example/report.pdf"
        assert body["internal_qa"] == {"status": "none", "accepted_at": None, "next_due": None}
        assert body["next_review_due"] == "2099-12-31"
        assert body["links"]["provider"] == f"http://registry.test/providers/{body['provider']['id']}"
        assert "evaluated_at" in body

    def test_point_in_time_before_the_result(self, client: TestClient, trusted: str) -> None:
        body = client.get("/api/v1/trust", params={"identifier": trusted, "at": "2019-05-01T10:00:00Z"}).json()
        assert (body["status"], body["trusted"]) == ("not_trusted", False)
        assert body["reasons"]

    def test_unknown_identifier_is_a_verdict_not_an_error(self, client: TestClient) -> None:
        response = client.get("/api/v1/trust", params={"identifier": "did:web:nobody.example"})
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["trusted"], body["provider"]) == ("unknown", False, None)

    def test_identifier_without_scheme_is_found_in_any_scheme(self, client: TestClient, trusted: str) -> None:
        body = client.get("/api/v1/trust", params={"identifier": "deqarinst5555", "at": "2025-01-01"}).json()
        assert (body["scheme"], body["status"]) == ("deqar", "trusted")

    def test_empty_optional_parameters_mean_not_given_as_documented(self, client: TestClient, trusted: str) -> None:
        plain = client.get("/api/v1/trust", params={"identifier": trusted}).json()
        empty = {"scheme": "", "at": "", "eqf_level": "", "field": "", "programme": ""}
        answered = client.get("/api/v1/trust", params={"identifier": trusted, **empty})
        assert answered.status_code == 200
        assert {k: v for k, v in answered.json().items() if k != "evaluated_at"} == {
            k: v for k, v in plain.items() if k != "evaluated_at"
        }
        documented = {
            p["name"]: p["schema"]
            for p in client.get("/schema/openapi.json").json()["paths"]["/api/v1/trust"]["get"]["parameters"]
        }
        assert documented["field"]["anyOf"] == [
            {"type": "string", "pattern": "^[0-9]{2,4}$"},
            {"type": "string", "maxLength": 0},
        ]
        assert "" in documented["scheme"]["enum"] and "" in documented["eqf_level"]["enum"]
        assert {"type": "string", "maxLength": 0} in documented["at"]["anyOf"]


class TestCaching:
    def test_etag_and_cache_control_and_304(self, client: TestClient, trusted: str) -> None:
        params = {"identifier": trusted, "at": "2025-03-10"}
        first = client.get("/api/v1/trust", params=params)
        assert first.headers["cache-control"] == "public, max-age=300"
        etag = first.headers["etag"]
        again = client.get("/api/v1/trust", params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        other = client.get("/api/v1/trust", params={**params, "at": "2019-01-01"}, headers={"If-None-Match": etag})
        assert other.status_code == 200
        assert other.headers["etag"] != etag

    def test_if_none_match_with_several_validators_over_several_header_lines(
        self, client: TestClient, trusted: str
    ) -> None:
        params = {"identifier": trusted, "at": "2025-03-10"}
        etag = client.get("/api/v1/trust", params=params).headers["etag"]
        headers = [("If-None-Match", '"stale-1", "stale-2"'), ("If-None-Match", f"W/{etag}")]
        assert client.get("/api/v1/trust", params=params, headers=headers).status_code == 304
        stale = [("If-None-Match", '"stale-1", "stale-2"')]
        assert client.get("/api/v1/trust", params=params, headers=stale).status_code == 200

    def test_a_verdict_as_of_now_keeps_its_validator_through_the_day(self, client: TestClient, trusted: str) -> None:
        first = client.get("/api/v1/trust", params={"identifier": trusted})
        assert first.headers["etag"].startswith('W/"')
        time.sleep(1.1)
        again = client.get(
            "/api/v1/trust", params={"identifier": trusted}, headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304


class TestSignedVerdicts:
    def test_jws_verifies_against_the_published_keys(self, client: TestClient, trusted: str) -> None:
        response = client.get(
            "/api/v1/trust", params={"identifier": trusted, "at": "2025-03-10"}, headers={"Accept": "application/jwt"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/jwt")
        keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
        token = jws.deserialize_compact(response.text, keys, algorithms=["ES256"])
        header = token.protected
        assert (header["alg"], header["typ"]) == ("ES256", "trust-verdict+jwt")
        assert header["kid"] in {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
        claims = json.loads(token.payload)
        assert claims["iss"] == "http://registry.test"
        assert claims["sub"] == trusted
        assert claims["exp"] - claims["iat"] == 86400
        assert claims["status"] == "trusted"

    def test_jwt_named_anywhere_in_the_accept_header_signs(self, client: TestClient, trusted: str) -> None:
        params = {"identifier": trusted, "at": "2025-03-10"}
        listed = client.get("/api/v1/trust", params=params, headers={"Accept": "application/json, application/jwt"})
        assert listed.headers["content-type"].startswith("application/jwt")
        lines = [("Accept", "application/json"), ("Accept", "application/jwt;q=0.9")]
        assert (
            client.get("/api/v1/trust", params=params, headers=lines)
            .headers["content-type"]
            .startswith("application/jwt")
        )
        plain = client.get("/api/v1/trust", params=params, headers={"Accept": "application/json"})
        assert plain.headers["content-type"] == "application/json"

    def test_a_tampered_token_fails_verification(self, client: TestClient, trusted: str) -> None:
        token = client.get("/api/v1/trust", params={"identifier": trusted}, headers={"Accept": "application/jwt"}).text
        head, payload, signature = token.split(".")
        forged = f"{head}.{payload[:-2]}AA.{signature}"
        keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
        with pytest.raises(Exception):  # noqa: B017 - joserfc raises BadSignatureError or a decode error
            jws.deserialize_compact(forged, keys, algorithms=["ES256"])

    def test_rotation_keeps_the_retired_key_published_until_its_verdicts_expire(
        self, session: Session, client: TestClient
    ) -> None:
        first = signing.ensure_key(session)
        second = signing.rotate(session, verdict_lifetime=3600)
        session.commit()
        kids = [key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]]
        assert first.kid in kids and second.kid in kids
        assert signing.active_key(session).kid == second.kid  # type: ignore[union-attr]
        first.publish_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.add(first)
        session.commit()
        kids = [key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]]
        assert first.kid not in kids and second.kid in kids


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "field", "fragment"),
        [
            ({"identifier": "did:web:"}, "identifier", "method-specific id"),
            ({"identifier": "did:web:x.example", "at": "2025-02-30"}, "at", "not a real date"),
            ({"identifier": "did:web:x.example", "at": "2025-02-03T10:00:00"}, "at", "time zone"),
            ({"identifier": "did:web:x.example", "eqf_level": "9"}, "eqf_level", "5, 6, 7 or 8"),
            ({"identifier": "did:web:x.example", "eqf_level": "six"}, "eqf_level", "not a number"),
            ({"identifier": "did:web:x.example", "scheme": "isbn"}, "scheme", "unknown scheme"),
            ({"identifier": "did:web:x.example", "field": "computing"}, "field", "ISCED-F"),
            ({"identifier": "?!"}, "identifier", "any known scheme"),
        ],
    )
    def test_problem_details_name_the_field(self, client: TestClient, params: dict, field: str, fragment: str) -> None:
        response = client.get("/api/v1/trust", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 400
        assert body["type"].endswith("/problems/invalid-input")
        assert fragment in body["detail"]
        assert any(e["field"] == field and fragment in e["detail"] for e in body["errors"])

    def test_missing_identifier(self, client: TestClient) -> None:
        response = client.get("/api/v1/trust")
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")


class TestBatch:
    def test_results_in_order_with_per_item_errors(self, client: TestClient, trusted: str) -> None:
        response = client.post(
            "/api/v1/trust/batch",
            json={
                "queries": [
                    {"identifier": trusted, "at": "2025-01-01"},
                    {"identifier": trusted, "eqf_level": 4},
                    {"identifier": "did:web:nobody.example"},
                ]
            },
        )
        assert response.status_code == 200
        first, second, third = response.json()["results"]
        assert first["status"] == "trusted"
        assert second["index"] == 1 and second["error"]["status"] == 400
        assert second["error"]["errors"][0]["field"] == "eqf_level"
        assert third["status"] == "unknown"

    def test_oversized_batch_is_refused(self, client: TestClient) -> None:
        response = client.post("/api/v1/trust/batch", json={"queries": [{"identifier": "x"}] * 1001})
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "at most 1000" in response.json()["detail"]

    def test_malformed_body(self, client: TestClient) -> None:
        response = client.post("/api/v1/trust/batch", json={"queries": "all"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "queries"


def test_unreachable_database_fails_closed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        var_dir=tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none",
        secret_key="x",
        base_url="http://registry.test",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/trust", params={"identifier": "did:web:x.example"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "status" not in response.json() or response.json()["status"] == 503
        assert client.get("/readyz").status_code == 503
