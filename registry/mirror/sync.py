"""Build and update a mirror from a registry: the signed trust list once, then the signed change feed.

Nothing is kept before its signature verifies against the source's published keys. The list is
written as it streams, in one transaction committed only once its signature verified; each page of
the feed is applied with its cursor in another. So a sync cut at any point resumes from the last
applied position, losing and repeating nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from sqlalchemy import Engine

from registry.mirror import store
from registry.mirror.listing import ListReader, ListUnreadable
from registry.trust.publication import CHANGES_TYPE, SignatureInvalid, verify

PAGE = 1000


class SyncFailed(RuntimeError):
    """The source could not be read or sent something that does not verify; nothing of it was applied."""


class SourceUnreachable(SyncFailed):
    """The source did not answer, or answered with a server error: worth trying again later."""


@dataclass
class SyncReport:
    listed: int
    changes: int
    position: int


def sync(
    engine: Engine,
    source: str,
    *,
    client: httpx.Client | None = None,
    wait: int = 0,
    follow: Callable[[SyncReport], bool] | None = None,
) -> SyncReport:
    """Bring the copy up to the source's newest position; with follow, keep long-polling while it returns True."""
    source = source.rstrip("/")
    own_client = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
    try:
        report = SyncReport(0, 0, 0)
        mirrored = store.read_state(engine)
        if mirrored is None or mirrored.source != source:
            jwks = _jwks(http, source)
            report.listed = _load_list(engine, http, source, jwks)
            mirrored = store.read_state(engine)
            assert mirrored is not None
        while True:
            applied = _follow_page(engine, http, source, mirrored, wait=wait if follow else 0)
            mirrored = store.read_state(engine)
            assert mirrored is not None
            report.changes += applied
            report.position = mirrored.position
            if applied == PAGE:
                continue
            if follow is None or not follow(report):
                return report
    except httpx.HTTPError as error:
        raise SourceUnreachable(f"the source {source} could not be read: {error}") from None
    finally:
        if own_client:
            http.close()


def _jwks(http: httpx.Client, source: str) -> dict[str, Any]:
    response = http.get(f"{source}/.well-known/jwks.json")
    _check(response)
    keys = response.json()
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise SyncFailed(f"{source}/.well-known/jwks.json is not a JWK set")
    return keys


def _check(response: httpx.Response) -> None:
    if response.status_code >= 500:
        raise SourceUnreachable(f"{response.request.url} answered {response.status_code}: {response.text[:300]}")
    if response.status_code != 200:
        raise SyncFailed(f"{response.request.url} answered {response.status_code}: {response.text[:300]}")


def _load_list(engine: Engine, http: httpx.Client, source: str, jwks: dict[str, Any]) -> int:
    # Parsed and written as it streams, in one transaction committed only once the signature over
    # every byte verified: memory holds a line and a batch, and a list that fails leaves the copy as it was.
    reader = ListReader()
    with http.stream("GET", f"{source}/api/v1/trust-list", headers={"Accept-Encoding": "gzip"}) as response:
        _check(response)

        def entries() -> Iterator[dict[str, Any]]:
            for chunk in response.iter_bytes():
                yield from reader.feed(chunk)

        def verified() -> store.MirrorState:
            head, _claims = reader.finish(jwks)
            return store.MirrorState(source, head["issuer"], int(head["position"]), head["policy"], jwks)

        try:
            return store.replace_all(engine, entries(), verified)
        except ListUnreadable as error:
            raise SyncFailed(f"refused: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise SyncFailed(f"refused: the list's entries are not as a registry writes them: {error!r}") from None


def _follow_page(engine: Engine, http: httpx.Client, source: str, mirrored: store.MirrorState, wait: int) -> int:
    params = {"after": str(mirrored.position), "limit": str(PAGE), "wait": str(wait)}
    response = http.get(f"{source}/api/v1/changes", params=params, timeout=httpx.Timeout(wait + 60.0))
    _check(response)
    try:
        document = _verified(response.content, mirrored.jwks, CHANGES_TYPE)
    except SyncFailed:
        # The source may have rotated its key since the list was read: fetch the keys once more.
        jwks = _jwks(http, source)
        document = _verified(response.content, jwks, CHANGES_TYPE)
        mirrored = store.MirrorState(mirrored.source, mirrored.issuer, mirrored.position, mirrored.policy, jwks)
    if int(document["after"]) != mirrored.position:
        raise SyncFailed("the feed answered for another position than asked")
    changes = document["changes"]
    positions = [int(change["position"]) for change in changes]
    if positions != sorted(positions) or (positions and positions[0] <= mirrored.position):
        raise SyncFailed("the feed's changes are not in order after the asked position")
    if document["policy"] != mirrored.policy:
        raise SyncFailed("the source's policy changed; build the mirror again from the trust list")
    new_position = int(document["next"])
    store.apply_changes(
        engine,
        changes,
        store.MirrorState(mirrored.source, mirrored.issuer, new_position, mirrored.policy, mirrored.jwks),
    )
    return len(changes)


def _verified(body: bytes, jwks: dict[str, Any], typ: str) -> dict[str, Any]:
    try:
        document, _claims = verify(body, jwks, typ)
    except SignatureInvalid as error:
        raise SyncFailed(f"refused: {error}") from None
    except msgspec.DecodeError as error:
        raise SyncFailed(f"refused: not JSON: {error}") from None
    return document
