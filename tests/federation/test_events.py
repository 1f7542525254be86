"""The Federation Subordinate Events endpoint: each kind of write gives its event, in commit order, signed, paged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, KeySet
from litestar.testing import TestClient
from sqlmodel import Session

from registry.providers.models import Provider
from registry.providers.services import add_identifier, add_relation, suspend, update_provider
from registry.qa import services as qa
from registry.timeutil import today
from registry.trust.signing import FEDERATION, ensure_key
from tests import factories as f

BASE = "http://registry.test"
ENDPOINT = "/federation/subordinate_events"


@pytest.fixture(autouse=True)
def keys(session: Session) -> None:
    ensure_key(session)
    ensure_key(session, FEDERATION)
    session.commit()


def _configuration(client: TestClient) -> dict[str, Any]:
    token = client.get("/.well-known/openid-federation").text
    claims = msgspec.json.decode(jws.extract_compact(token.encode()).payload)
    jws.deserialize_compact(token, KeySet.import_key_set(claims["jwks"]), algorithms=["ES256"])
    return dict(claims)


def _events(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get(ENDPOINT, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/entity-events-statement+jwt"
    assert response.headers["cache-control"] == "no-store"
    keys = KeySet.import_key_set(_configuration(client)["jwks"])
    verified = jws.deserialize_compact(response.text, keys, algorithms=["ES256"])
    assert verified.protected["typ"] == "entity-events-statement+jwt"
    claims: dict[str, Any] = msgspec.json.decode(verified.payload)
    assert claims["iss"] == BASE
    return claims


def _all(client: TestClient, **params: str) -> list[tuple[str, str]]:
    return [(e["sub"], e["event"]) for e in _events(client, **params)["federation_registration_events"]]


def _trusted_provider(session: Session, name: str) -> tuple[Provider, Any]:
    agency = f.agency(session)
    provider = f.provider(session, name=name)
    result = f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2035-12-31")
    session.commit()
    return provider, result


class TestEventsFollowWrites:
    def test_each_kind_of_write_gives_its_event(self, client: TestClient, session: Session) -> None:
        assert _configuration(client)["metadata"]["federation_entity"]["federation_subordinate_events_endpoint"] == (
            f"{BASE}{ENDPOINT}"
        )
        # A provider without a result is listed but no subordinate: no event.
        untrusted = f.provider(session, name="No Result Yet")
        session.commit()
        assert _all(client) == []

        provider, result = _trusted_provider(session, "Eventful University")
        did = f.did(provider, session)
        subs = sorted(e["sub"] for e in _events(client)["federation_registration_events"])
        assert len(subs) == 2 and did in subs
        domain = next(s for s in subs if s != did)
        # One feed position per provider; its identifiers' events in sub order.
        assert _all(client) == [(did, "registration"), (domain, "registration")]

        update_provider(session, provider, {"name": "Eventful University of Events"}, f.TEST, provider.version)
        session.commit()
        add_identifier(session, provider, scheme="url", value="https://eventful.example/issuer", actor=f.TEST)
        session.commit()
        suspend(session, provider, suspended_from=today(), suspended_to=None, reason="inquiry", actor=f.TEST)
        session.commit()
        url = "https://eventful.example/issuer"
        assert _all(client)[2:] == [
            (did, "metadata_update"),
            (domain, "metadata_update"),
            (url, "registration"),
            *[(sub, "suspension") for sub in sorted([did, domain, url])],
        ]

        other, other_result = _trusted_provider(session, "Revocable College")
        other_did = f.did(other, session)
        qa.revoke_result(session, other_result, revoked_from=today(), actor=f.TEST)
        session.commit()
        assert _all(client, sub=other_did) == [(other_did, "registration"), (other_did, "revocation")]
        described = _events(client, sub=other_did)["federation_registration_events"]
        assert described[1]["event_description"].startswith("verdict ")
        assert all(isinstance(e["iat"], int) for e in described)
        # The untrusted provider never became a subordinate.
        assert client.get(ENDPOINT, params={"sub": f.did(untrusted, session)}).status_code == 404
        assert result.id is not None and other_result.id != result.id

    def test_one_subordinates_history_and_its_sub_claim(self, client: TestClient, session: Session) -> None:
        provider, result = _trusted_provider(session, "History University")
        did = f.did(provider, session)
        qa.withdraw_result(session, result, reason="recorded in error", actor=f.TEST)
        session.commit()
        claims = _events(client, sub=did)
        assert claims["sub"] == did
        assert [e["event"] for e in claims["federation_registration_events"]] == ["registration", "revocation"]
        assert {e["sub"] for e in claims["federation_registration_events"]} == {did}
        # Without sub the statement is about the whole federation: its sub is the registry itself.
        assert _events(client)["sub"] == BASE

    def test_a_merger_revokes_the_absorbed_and_registers_the_successor(
        self, client: TestClient, session: Session
    ) -> None:
        absorbed, _result = _trusted_provider(session, "Absorbed College")
        successor = f.provider(session, name="Successor University")
        session.commit()
        after = _events(client)["next_cursor"]
        add_relation(
            session,
            absorbed,
            kind="absorbed by",
            related_provider_id=successor.id or 0,
            valid_from=today() - dt.timedelta(days=1),
            actor=f.TEST,
        )
        session.commit()
        events = _events(client, after=after)["federation_registration_events"]
        absorbed_did, successor_did = f.did(absorbed, session), f.did(successor, session)
        by_sub = {e["sub"]: e for e in events}
        assert by_sub[absorbed_did]["event"] == "revocation" and "closed" in by_sub[absorbed_did]["event_description"]
        # The successor counts the absorbed provider's result from the merger on.
        assert by_sub[successor_did]["event"] == "registration"
        assert len(events) == 4


class TestCursors:
    def test_pages_follow_commit_order_and_lose_nothing(self, client: TestClient, session: Session) -> None:
        for number in range(3):
            _trusted_provider(session, f"Paged Institute {number}")
        whole = _events(client)["federation_registration_events"]
        assert len(whole) == 6
        cursors = [e["cursor"] for e in whole]
        assert cursors == sorted(cursors, key=lambda c: tuple(int(p) for p in c.split("-")))
        paged: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            claims = _events(client, limit="4", **({"after": after} if after else {}))
            paged += claims["federation_registration_events"]
            after = claims["next_cursor"]
            if not claims["more"]:
                break
        assert paged == whole and after == cursors[-1]
        # Nothing new: an empty page that keeps the cursor.
        empty = _events(client, after=after)
        assert empty["federation_registration_events"] == [] and empty["next_cursor"] == after
        # A write afterwards is exactly what the next page holds.
        _trusted_provider(session, "Latecomer Academy")
        later = _events(client, after=after)["federation_registration_events"]
        assert len(later) == 2 and {e["event"] for e in later} == {"registration"}

    @pytest.mark.parametrize(
        ("params", "status", "error"),
        [
            ({"after": "abc"}, 400, "invalid_request"),
            ({"after": "12"}, 400, "invalid_request"),
            ({"after": "-1-0"}, 400, "invalid_request"),
            ({"after": "99999999-0"}, 400, "invalid_request"),
            ({"after": "1" * 25 + "-0"}, 400, "invalid_request"),
            ({"limit": "0"}, 400, "invalid_request"),
            ({"limit": "1001"}, 400, "invalid_request"),
            ({"sub": ""}, 400, "invalid_request"),
            ({"sub": "did:web:never.example"}, 404, "not_found"),
        ],
    )
    def test_bad_requests_answer_federation_errors(
        self, client: TestClient, session: Session, params: dict[str, str], status: int, error: str
    ) -> None:
        _trusted_provider(session, "Error Polytechnic")
        response = client.get(ENDPOINT, params=params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"] == error and response.json()["error_description"]

    def test_a_cursor_given_twice_is_refused(self, client: TestClient, session: Session) -> None:
        response = client.get(f"{ENDPOINT}?after=1-0&after=2-0")
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"

    def test_a_statement_signed_with_another_key_does_not_verify(self, client: TestClient, session: Session) -> None:
        _trusted_provider(session, "Forgery Institute")
        token = client.get(ENDPOINT).text
        stranger = KeySet([ECKey.generate_key("P-256", parameters={"kid": _kid(token)})])
        with pytest.raises(BadSignatureError):
            jws.deserialize_compact(token, stranger, algorithms=["ES256"])


def _kid(token: str) -> str:
    return str(jws.extract_compact(token.encode()).protected["kid"])
