"""The signed trust list and the change feed, through the HTTP API."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.providers.models import ProviderIdentifier
from registry.providers.services import add_identifier
from registry.settings import Settings
from registry.trust import feed
from registry.trust.publication import CHANGES_TYPE, LIST_TYPE, SignatureInvalid, verify
from tests import factories as f


def signed_list(client: TestClient, **headers: str) -> tuple[dict[str, Any], bytes]:
    response = client.get("/api/v1/trust-list", headers=headers)
    assert response.status_code == 200, response.text
    document, claims = verify(response.content, client.get("/.well-known/jwks.json").json(), LIST_TYPE)
    assert claims["position"] == document["position"]
    return document, response.content


def changes(client: TestClient, after: int, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/changes", params={"after": after, **params})
    assert response.status_code == 200, response.text
    document, claims = verify(response.content, client.get("/.well-known/jwks.json").json(), CHANGES_TYPE)
    assert claims["after"] == after
    return document


class TestTrustList:
    def test_lists_resolving_providers_with_timeline_and_verifies(self, session: Session, client: TestClient) -> None:
        listed = f.provider(session, name="Listed University")
        f.result(session, f.agency(session), [listed], valid_from="2020-01-01", valid_to="2025-12-31")
        unlisted = f.provider(session, name="Claims Only", identifiers=[])
        add_identifier(session, unlisted, scheme="did", value="did:web:claims.example", actor=f.TEST, origin="claimed")
        session.commit()
        document, _body = signed_list(client)
        assert document["position"] == feed.current_position(session) > 0
        assert document["policy"]["name"] == "esg-2015/v1"
        by_id = {entry["provider_id"]: entry for entry in document["providers"]}
        assert unlisted.id not in by_id
        entry = by_id[listed.id]
        assert entry["name"] == "Listed University" and entry["country"] == "NL"
        assert {(i["scheme"], i["normalised"]) for i in entry["identifiers"]} == {
            ("did", f.did(listed, session)),
            ("domain", f.did(listed, session).removeprefix("did:web:")),
        }
        assert entry["timeline"]["results"][0]["valid_to"] == "2025-12-31"
        assert [(i["from"], i["to"], i["status"]) for i in entry["status_intervals"]] == [
            ("2020-01-01", "2026-01-01", "trusted"),
            ("2026-01-01", None, "expired"),
        ]

    def test_a_changed_byte_or_foreign_key_is_refused(self, session: Session, client: TestClient) -> None:
        f.result(session, f.agency(session), [f.provider(session, name="Tamper College")])
        session.commit()
        _document, body = signed_list(client)
        jwks = client.get("/.well-known/jwks.json").json()
        with pytest.raises(SignatureInvalid, match="SHA-256"):
            verify(body.replace(b"Tamper College", b"Tamper Collegf"), jwks, LIST_TYPE)
        with pytest.raises(SignatureInvalid):
            verify(body, {"keys": []}, LIST_TYPE)
        with pytest.raises(SignatureInvalid, match="type"):
            verify(body, jwks, CHANGES_TYPE)
        with pytest.raises(SignatureInvalid, match="no signature"):
            verify(body[: len(body) // 2], jwks, LIST_TYPE)

    def test_gzip_etag_and_last_modified(self, session: Session, client: TestClient) -> None:
        f.result(session, f.agency(session), [f.provider(session)])
        session.commit()
        response = client.get("/api/v1/trust-list", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        plain = client.get("/api/v1/trust-list", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        # httpx decodes gzip; the raw size is what went over the wire.
        assert len(gzip.compress(plain.content)) < len(plain.content)
        tag = plain.headers["etag"]
        assert tag == f'W/"trust-list-{feed.current_position(session)}"'
        assert "GMT" in plain.headers["last-modified"]
        again = client.get("/api/v1/trust-list", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        since = client.get("/api/v1/trust-list", headers={"If-Modified-Since": plain.headers["last-modified"]})
        assert since.status_code == 304
        f.provider(session)
        session.commit()
        assert client.get("/api/v1/trust-list", headers={"If-None-Match": tag}).status_code == 200


class TestChanges:
    def test_changes_follow_the_list_in_commit_order(self, session: Session, client: TestClient) -> None:
        first = f.provider(session)
        session.commit()
        start = signed_list(client)[0]["position"]
        assert changes(client, start)["changes"] == []
        second = f.provider(session)
        session.commit()
        f.result(session, f.agency(session), [first])
        session.commit()
        page = changes(client, start)
        assert [c["provider_id"] for c in page["changes"]] == [second.id, first.id]
        positions = [c["position"] for c in page["changes"]]
        assert positions == sorted(positions) and page["next"] == str(positions[-1]) == str(page["position"])
        assert page["changes"][1]["entry"]["timeline"]["results"][0]["decision"] == "positive"
        # Paging: one at a time gives the same changes.
        one = changes(client, start, limit=1)
        assert [c["provider_id"] for c in one["changes"]] == [second.id]
        assert [c["provider_id"] for c in changes(client, int(one["next"]), limit=1)["changes"]] == [first.id]

    def test_a_provider_that_stops_resolving_is_removed(self, session: Session, client: TestClient) -> None:
        provider = f.provider(session, identifiers=[{"scheme": "did", "value": "did:web:leaving.example"}])
        session.commit()
        start = feed.current_position(session)
        for identifier in session.exec(select(ProviderIdentifier).where(ProviderIdentifier.provider_id == provider.id)):
            session.delete(identifier)
        session.commit()
        [change] = changes(client, start)["changes"]
        assert change == {**change, "provider_id": provider.id, "removed": True, "entry": None}
        assert provider.id not in {e["provider_id"] for e in signed_list(client)[0]["providers"]}

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"after": "-1"}, "after"),
            ({"after": "x"}, "after"),
            ({"limit": "0"}, "limit"),
            ({"wait": "31"}, "wait"),
            ({"wait": ""}, "wait"),
        ],
    )
    def test_bad_parameters_get_a_problem(self, client: TestClient, params: dict[str, str], field: str) -> None:
        response = client.get("/api/v1/changes", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == [field]


class TestLongPollCap:
    @pytest.fixture
    def settings(self, tmp_path: Path, database_url: str) -> Settings:
        return Settings(
            var_dir=tmp_path,
            database_url=database_url,
            secret_key="test-secret-key",
            base_url="http://registry.test",
            feed_max_wait=1,
        )

    def test_a_long_poll_is_held_no_longer_than_the_setting(self, session: Session, client: TestClient) -> None:
        position = feed.current_position(session)
        started = time.monotonic()
        document = changes(client, position, wait=30)
        held = time.monotonic() - started
        assert document["changes"] == [] and int(document["next"]) == position
        assert 0.9 <= held < 10, held
