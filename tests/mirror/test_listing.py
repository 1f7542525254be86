"""The first sync reads the trust list as it streams and keeps nothing of a list that does not verify."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from registry.mirror import listing, store
from registry.mirror import sync as mirror_sync
from registry.providers.models import Provider
from registry.providers.services import update_provider
from registry.trust.signing import ensure_key
from tests import factories as f

SOURCE = "http://registry.test"


def _through(client: TestClient, change: Callable[[bytes], bytes]) -> httpx.Client:
    """An HTTP client that fetches from the in-process registry and alters the trust list on the way."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = client.get(request.url.path, params=dict(request.url.params))
        body = answer.content
        if request.url.path == "/api/v1/trust-list":
            body = change(body)
        return httpx.Response(answer.status_code, headers={"content-type": "application/json"}, content=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def _copy(path: Path) -> tuple[Any, list[Any], list[Any]]:
    engine = store.open_store(path)
    with engine.connect() as connection:
        rows = list(connection.execute(select(store.entries.c.provider_id, store.entries.c.entry)))
        held = list(connection.execute(select(store.identifiers.c.provider_id, store.identifiers.c.normalised)))
    return store.read_state(engine), sorted(rows), sorted(held)


@pytest.fixture
def source(session: Session) -> list[Provider]:
    ensure_key(session)
    agency = f.agency(session)
    providers = [f.provider(session, name=f"Streamed College {n}") for n in range(5)]
    f.result(session, agency, providers[:3], valid_from="2020-01-01", valid_to="2035-12-31")
    session.commit()
    return providers


def _forge_entry(body: bytes) -> bytes:
    head, first, rest = body.split(b"\n", 2)
    forged = msgspec.json.decode(first.rstrip(b","))
    forged["provider_id"] = 999_999
    forged["identifiers"][0]["normalised"] = forged["identifiers"][0]["value"] = "did:web:forged.example"
    return b"\n".join([head, msgspec.json.encode(forged) + b",", first, rest])


TAMPERINGS: dict[str, Callable[[bytes], bytes]] = {
    "an entry altered": lambda body: body.replace(b'"decision":"positive"', b'"decision":"negative"', 1),
    "an entry added": _forge_entry,
    "an entry dropped": lambda body: body.split(b"\n", 2)[0] + b"\n" + body.split(b"\n", 2)[2],
    "cut short": lambda body: body[: len(body) * 2 // 3],
    "signature removed": lambda body: body.rpartition(b',"signature":"')[0] + b"}",
    "one line": lambda body: body.replace(b"\n", b""),
}


class TestStreamedFirstSync:
    def test_the_list_is_read_line_by_line_and_verified(
        self, client: TestClient, source: list[Provider], tmp_path: Path
    ) -> None:
        body = client.get("/api/v1/trust-list").content
        lines = body.split(b"\n")
        assert lines[0].endswith(b'"providers":[') and lines[-1].startswith(b'],"signature":"')
        assert len(lines) == 2 + 5
        reader = listing.ListReader()
        # Fed in small pieces that cut lines anywhere: the same entries come out.
        entries = [entry for start in range(0, len(body), 97) for entry in reader.feed(body[start : start + 97])]
        head, claims = reader.finish(client.get("/.well-known/jwks.json").json())
        assert sorted(e["provider_id"] for e in entries) == sorted(p.id or 0 for p in source)
        assert head["position"] == claims["position"] and head["type"] == "trust-list"
        path = tmp_path / "mirror.db"
        report = mirror_sync.sync(store.open_store(path), SOURCE, client=client)
        assert report.listed == 5
        assert len(_copy(path)[1]) == 5

    @pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
    def test_a_list_that_fails_leaves_the_copy_unchanged(
        self, client: TestClient, session: Session, source: list[Provider], tmp_path: Path, tampering: str
    ) -> None:
        path = tmp_path / "mirror.db"
        mirror_sync.sync(store.open_store(path), SOURCE, client=client)
        before = _copy(path)
        # The source changes, and the mirror is pointed at it again under another name: a full reload.
        provider = source[0]
        update_provider(session, provider, {"name": "Renamed Before The Reload"}, f.TEST, provider.version)
        session.commit()
        with _through(client, TAMPERINGS[tampering]) as tampered, pytest.raises(mirror_sync.SyncFailed) as failed:
            mirror_sync.sync(store.open_store(path), "http://registry.test:80", client=tampered)
        assert "refused" in str(failed.value) or "signature" in str(failed.value)
        assert _copy(path) == before
        # The same reload untampered goes through.
        with _through(client, lambda body: body) as honest:
            mirror_sync.sync(store.open_store(path), "http://registry.test:80", client=honest)
        state, rows, _held = _copy(path)
        assert state is not None and state.source == "http://registry.test:80"
        assert any(b"Renamed Before The Reload" in entry.encode() for _pid, entry in rows)

    def test_a_line_without_end_is_refused_before_it_fills_memory(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(listing, "MAX_LINE", 1000)
        reader = listing.ListReader()
        with pytest.raises(listing.ListUnreadable, match="longer than"):
            for _ in range(20):
                list(reader.feed(b"x" * 100))

    def test_bytes_that_are_no_trust_list_are_refused(self) -> None:
        reader = listing.ListReader()
        with pytest.raises(listing.ListUnreadable, match="head"):
            list(reader.feed(b'{"type":"something else"}\n'))
