"""OpenID Federation endpoints over the demo registry: statements, errors, signatures, trust marks, key rotation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from litestar.testing import TestClient
from sqlmodel import Session, col, select

from registry.audit.services import Actor
from registry.demo.services import CASES, load_demo
from registry.providers.models import Provider, ProviderIdentifier
from registry.providers.services import add_identifier, suspend
from registry.qa.models import QAResult, QAResultProvider
from registry.qa.services import revoke_result
from registry.timeutil import today, utcnow
from registry.trust.signing import FEDERATION, ensure_key, rotate

TRUSTED = ("trusted", "trusted_with_conditions")
BASE = "http://registry.test"


@pytest.fixture
def demo(session: Session) -> None:
    load_demo(session)
    # As `registry setup` does; a key created mid-request would vanish with the test's savepoint.
    ensure_key(session)
    ensure_key(session, FEDERATION)
    session.commit()


def _entity_configuration(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    response = client.get("/.well-known/openid-federation")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/entity-statement+jwt"
    token = response.text
    # Self-signed: the keys to check it with are inside it.
    claims = msgspec.json.decode(jws.extract_compact(token.encode()).payload)
    verified = jws.deserialize_compact(token, KeySet.import_key_set(claims["jwks"]), algorithms=["ES256"])
    return dict(verified.protected), claims


def _suspend(session: Session, provider_id: int) -> None:
    provider = session.get(Provider, provider_id)
    assert provider is not None
    suspend(session, provider, suspended_from=today(), suspended_to=None, reason="test", actor=Actor("test"))


def _verify(token: str, configuration: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT that verifies against the entity configuration's keys (fails otherwise)."""
    verified = jws.deserialize_compact(token, KeySet.import_key_set(configuration["jwks"]), algorithms=["ES256"])
    return dict(verified.protected), msgspec.json.decode(verified.payload)


@pytest.mark.usefixtures("demo")
class TestEntityConfiguration:
    def test_is_a_self_signed_trust_anchor_statement(self, client: TestClient) -> None:
        header, claims = _entity_configuration(client)
        assert header["typ"] == "entity-statement+jwt" and header["alg"] == "ES256"
        assert header["kid"] in {key["kid"] for key in claims["jwks"]["keys"]}
        assert claims["iss"] == claims["sub"] == BASE
        assert claims["iat"] <= utcnow().timestamp() < claims["exp"]
        assert "authority_hints" not in claims
        entity = claims["metadata"]["federation_entity"]
        assert entity["federation_fetch_endpoint"] == f"{BASE}/federation/fetch"
        assert entity["federation_list_endpoint"] == f"{BASE}/federation/list"
        assert entity["federation_resolve_endpoint"] == f"{BASE}/federation/resolve"
        assert entity["federation_trust_mark_status_endpoint"] == f"{BASE}/federation/trust_mark_status"
        assert entity["organization_name"] == "Provider QA Registry"
        assert entity["homepage_uri"] == BASE and entity["contacts"]
        assert claims["trust_mark_issuers"] == {f"{BASE}/trust-marks/esg-2015": [BASE]}

    def test_federation_keys_are_not_the_verdict_keys(self, client: TestClient) -> None:
        _, claims = _entity_configuration(client)
        verdict_kids = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
        assert verdict_kids and not verdict_kids & {key["kid"] for key in claims["jwks"]["keys"]}


@pytest.mark.usefixtures("demo")
class TestFetch:
    def test_every_demo_did_is_a_subordinate_exactly_when_trusted(self, client: TestClient) -> None:
        _, configuration = _entity_configuration(client)
        for case in CASES:
            did = f"did:web:{case.slug}.example"
            response = client.get(f"/federation/fetch?sub={did}")
            if case.expect in TRUSTED:
                assert response.status_code == 200, (case.slug, response.text)
                assert response.headers["content-type"] == "application/entity-statement+jwt"
                header, claims = _verify(response.text, configuration)
                assert header["typ"] == "entity-statement+jwt"
                assert claims["iss"] == BASE and claims["sub"] == did
                assert claims["metadata"]["federation_entity"]["organization_name"] == case.name
                assert claims["metadata"]["esg_quality_assurance"]["status"] == case.expect
            else:
                assert response.status_code == 404, case.slug
                assert response.headers["content-type"].startswith("application/json")
                body = response.json()
                assert body["error"] == "not_found" and case.expect in body["error_description"]

    def test_the_statement_carries_the_verdict_and_matches_the_lookup(self, client: TestClient) -> None:
        _, configuration = _entity_configuration(client)
        sub = "https://northbridge.example/issuer"
        _, claims = _verify(client.get("/federation/fetch", params={"sub": sub}).text, configuration)
        verdict = client.get("/api/v1/trust", params={"identifier": sub}).json()
        entry = claims["metadata"]["esg_quality_assurance"]
        assert entry["status"] == verdict["status"] == "trusted"
        assert entry["policy"] == "esg-2015/v1"
        assert entry["next_review_due"] == verdict["next_review_due"]
        assert [b["agency"] for b in entry["basis"]] == ["DAC"]
        assert claims["metadata"]["federation_entity"] == {
            "organization_name": "Northbridge University",
            "homepage_uri": "https://northbridge.example",
            "location": verdict["provider"]["country"],
        }

    def test_expiry_is_bounded_by_cache_lifetime_and_next_timeline_change(self, client: TestClient) -> None:
        _, configuration = _entity_configuration(client)
        _, claims = _verify(client.get("/federation/fetch?sub=did:web:northbridge.example").text, configuration)
        assert 0 < claims["exp"] - claims["iat"] <= 300
        # Tidewater's result ends in 45 days; a statement can never outlive the next change day either.
        _, tide = _verify(client.get("/federation/fetch?sub=did:web:tidewater.example").text, configuration)
        assert tide["exp"] <= dt.datetime.combine(today() + dt.timedelta(days=46), dt.time(), dt.UTC).timestamp()

    def test_missing_sub_is_invalid_request_and_garbage_is_not_found(self, client: TestClient) -> None:
        for path in ("/federation/fetch", "/federation/fetch?sub="):
            response = client.get(path)
            assert response.status_code == 400
            assert response.json()["error"] == "invalid_request"
        for sub in (
            "did:web:nowhere.example",
            "not an identifier at all",
            "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        ):
            response = client.get("/federation/fetch", params={"sub": sub})
            assert response.status_code == 404, sub
            assert set(response.json()) == {"error", "error_description"}
        assert client.get("/federation/fetch", params={"sub": "x" * 5000}).status_code == 400
        assert client.get("/federation/fetch", params={"sub": "did:web:a\x00b"}).status_code == 400

    def test_a_proven_did_key_carries_its_key(self, client: TestClient, session: Session) -> None:
        _, configuration = _entity_configuration(client)
        northbridge = session.exec(
            select(ProviderIdentifier.provider_id).where(ProviderIdentifier.value == "did:web:northbridge.example")
        ).one()
        did = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"
        provider = session.get(Provider, northbridge)
        assert provider is not None
        add_identifier(session, provider, scheme="did", value=did, origin="proven", actor=Actor("test"))
        session.commit()
        _, claims = _verify(client.get(f"/federation/fetch?sub={did}").text, configuration)
        assert claims["jwks"]["keys"][0]["kty"] == "OKP" and claims["jwks"]["keys"][0]["kid"].startswith(did)

    def test_a_verdict_change_changes_the_answer_at_once(self, client: TestClient, session: Session) -> None:
        assert client.get("/federation/fetch?sub=did:web:northbridge.example").status_code == 200
        provider_id = session.exec(
            select(ProviderIdentifier.provider_id).where(ProviderIdentifier.value == "did:web:northbridge.example")
        ).one()
        result = session.exec(
            select(QAResult)
            .join(QAResultProvider, col(QAResultProvider.result_id) == QAResult.id)
            .where(QAResultProvider.provider_id == provider_id)
        ).one()
        revoke_result(session, result, revoked_from=today(), actor=Actor("test"))
        session.commit()
        assert client.get("/federation/fetch?sub=did:web:northbridge.example").status_code == 404
        meridian = session.exec(
            select(ProviderIdentifier.provider_id).where(ProviderIdentifier.value == "did:web:meridian.example")
        ).one()
        _suspend(session, meridian)
        session.commit()
        response = client.get("/federation/fetch?sub=did:web:meridian.example")
        assert response.status_code == 404 and "suspended" in response.json()["error_description"]


@pytest.mark.usefixtures("demo")
class TestTrustMarks:
    def test_the_statement_carries_a_trust_mark_that_stays_active_until_the_verdict_changes(
        self, client: TestClient, session: Session
    ) -> None:
        _, configuration = _entity_configuration(client)
        _, claims = _verify(client.get("/federation/fetch?sub=did:web:chartered.example").text, configuration)
        [mark] = claims["trust_marks"]
        assert mark["trust_mark_type"] == f"{BASE}/trust-marks/esg-2015"
        header, mark_claims = _verify(mark["trust_mark"], configuration)
        assert header["typ"] == "trust-mark+jwt"
        assert mark_claims["sub"] == "did:web:chartered.example" and mark_claims["iss"] == BASE

        def status(token: str) -> str:
            response = client.post("/federation/trust_mark_status", data={"trust_mark": token})
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/trust-mark-status-response+jwt"
            header, answer = _verify(response.text, configuration)
            assert header["typ"] == "trust-mark-status-response+jwt" and answer["trust_mark"] == token
            return str(answer["status"])

        assert status(mark["trust_mark"]) == "active"
        provider_id = session.exec(
            select(ProviderIdentifier.provider_id).where(ProviderIdentifier.value == "did:web:chartered.example")
        ).one()
        _suspend(session, provider_id)
        session.commit()
        assert status(mark["trust_mark"]) == "revoked"
        tampered = mark["trust_mark"][:-4] + ("AAAA" if not mark["trust_mark"].endswith("AAAA") else "BBBB")
        assert status(tampered) == "invalid"
        assert status("not-a-jwt") == "invalid"

    def test_a_status_request_without_a_trust_mark_is_invalid(self, client: TestClient) -> None:
        for form in ({}, {"trust_mark": ""}, {"trust_mark": "a" * 20000}):
            response = client.post("/federation/trust_mark_status", data=form)
            assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.usefixtures("demo")
class TestListAndResolve:
    def test_list_names_the_trusted_identifiers_only(self, client: TestClient) -> None:
        response = client.get("/federation/list")
        assert response.status_code == 200
        listed = set(response.json())
        for case in CASES:
            assert (f"did:web:{case.slug}.example" in listed) is (case.expect in TRUSTED), case.slug
        assert "https://northbridge.example/issuer" in listed
        for sub in listed:
            assert client.get("/federation/fetch", params={"sub": sub}).status_code == 200, sub

    def test_list_filters(self, client: TestClient) -> None:
        everything = client.get("/federation/list").json()
        assert client.get("/federation/list?entity_type=openid_provider").json() == []
        assert client.get("/federation/list?intermediate=true").json() == []
        assert client.get("/federation/list?trust_marked=true").json() == everything
        assert (
            client.get("/federation/list", params={"trust_mark_type": f"{BASE}/trust-marks/esg-2015"}).json()
            == everything
        )
        assert client.get("/federation/list?trust_marked=maybe").json()["error"] == "invalid_request"
        # entity_type may be repeated; a second value of any other parameter is ambiguous.
        assert client.get("/federation/list?entity_type=openid_provider&entity_type=x").json() == []
        twice = client.get("/federation/list?trust_marked=true&trust_marked=false")
        assert twice.status_code == 400
        assert twice.json() == {
            "error": "invalid_request",
            "error_description": "trust_marked is given more than once; send it once",
        }
        nul = client.get("/federation/fetch?sub=a%00b")
        assert nul.status_code == 400 and nul.headers["content-type"] == "application/problem+json"

    def test_extended_list_pages_through_every_subordinate(self, client: TestClient) -> None:
        seen: list[str] = []
        start: str | None = None
        for _ in range(100):
            params = {"limit": "7", **({"from_entity_id": start} if start else {})}
            page = client.get("/federation/extended_list", params=params).json()
            seen += [entry["id"] for entry in page["immediate_subordinate_entities"]]
            start = page.get("next_entity_id")
            if start is None:
                break
        assert sorted(seen) == sorted(client.get("/federation/list").json())
        assert client.get("/federation/extended_list?limit=0").status_code == 400
        assert client.get("/federation/extended_list?limit=").json()["error"] == "invalid_request"

    def test_resolve_answers_signed_metadata_with_the_chain(self, client: TestClient) -> None:
        _, configuration = _entity_configuration(client)
        response = client.get("/federation/resolve", params={"sub": "did:web:meridian.example", "trust_anchor": BASE})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/resolve-response+jwt"
        header, claims = _verify(response.text, configuration)
        assert header["typ"] == "resolve-response+jwt"
        assert claims["sub"] == "did:web:meridian.example"
        assert claims["metadata"]["esg_quality_assurance"]["status"] == "trusted_with_conditions"
        statement, anchor = claims["trust_chain"]
        assert _verify(statement, configuration)[1]["sub"] == "did:web:meridian.example"
        assert _verify(anchor, configuration)[1]["sub"] == BASE
        only = client.get(
            "/federation/resolve",
            params={"sub": "did:web:meridian.example", "trust_anchor": BASE, "entity_type": "federation_entity"},
        )
        assert set(_verify(only.text, configuration)[1]["metadata"]) == {"federation_entity"}

    def test_resolve_errors(self, client: TestClient) -> None:
        wrong = client.get(
            "/federation/resolve", params={"sub": "did:web:meridian.example", "trust_anchor": "https://other.example"}
        )
        assert wrong.status_code == 404 and wrong.json()["error"] == "invalid_trust_anchor"
        unknown = client.get("/federation/resolve", params={"sub": "did:web:castellan.example", "trust_anchor": BASE})
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
        missing = client.get("/federation/resolve", params={"sub": "did:web:meridian.example"})
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


@pytest.mark.usefixtures("demo")
class TestKeyRotation:
    def test_statements_signed_before_a_rotation_still_verify(self, client: TestClient, session: Session) -> None:
        client.app.state.federation.signer.forget()
        before = client.get("/federation/fetch?sub=did:web:northbridge.example").text
        old_kid = jws.extract_compact(before.encode()).protected["kid"]
        rotate(session, 86400, FEDERATION)
        session.commit()
        client.app.state.federation.signer.forget()
        after = client.get("/federation/fetch?sub=did:web:northbridge.example").text
        new_kid = jws.extract_compact(after.encode()).protected["kid"]
        assert new_kid != old_kid
        _, configuration = _entity_configuration(client)
        assert {old_kid, new_kid} <= {key["kid"] for key in configuration["jwks"]["keys"]}
        _verify(before, configuration)
        _verify(after, configuration)
        # Rotating the federation keys leaves the verdict keys alone.
        assert old_kid not in {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
