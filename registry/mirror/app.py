"""The mirror's verdict API: /api/v1/trust answered offline from the local copy, in the registry's format.

Signed verdicts (Accept: application/jwt) are signed with the mirror's own key when it has one
(registry/mirror/keys.py), published at the mirror's /.well-known/jwks.json; without one the mirror
answers 406 and says so, rather than an unsigned verdict to a verifier that asked for a signature.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter
from sqlalchemy.exc import DBAPIError

from registry.errors import RegistryError
from registry.mirror import store
from registry.mirror.keys import MirrorKey, load
from registry.settings import Settings
from registry.timeutil import utcnow
from registry.trust import services, signing
from registry.trust.api import JWT_MEDIA_TYPE
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.web import (
    database_unavailable_handler,
    http_error_handler,
    internal_error_handler,
    registry_error_handler,
    validation_error_handler,
)


class MirrorLookup:
    """The copy, its source's settings and a lookup reader.

    The sync state (source, position, policy) is read again only when another connection has
    committed to the copy since (SQLite's data_version): reading and decoding it on every lookup
    made the mirror 13-15 % slower than the registry it copies.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.engine = store.open_store(path)
        self.reader = SqliteLookupReader(self.engine)
        self._local = threading.local()

    def _state(self) -> tuple[store.MirrorState, Settings, dict[str, Any]]:
        version = self.reader.data_version()
        cached = getattr(self._local, "state", None)
        if cached is not None and cached[0] == version:
            return cached[1]  # type: ignore[no-any-return]
        mirrored = store.read_state(self.engine)
        if mirrored is None:
            raise MirrorEmpty(f"the mirror at {self.path} has not been synced yet: run `registry mirror sync`")
        found = (
            mirrored,
            store.settings_for(self.path, mirrored),
            {"source": mirrored.source, "position": mirrored.position},
        )
        self._local.state = (version, found)
        return found

    def verdict(self, params: dict[str, Any]) -> dict[str, Any]:
        _mirrored, settings, described = self._state()
        now = utcnow()
        query = services.parse_query(params, now)
        payload = services.verdict(self.reader, query, settings, now)
        payload["mirror"] = dict(described)
        return payload


class MirrorEmpty(RegistryError):
    status_code = 503
    title = "Mirror not synced"
    type_slug = "mirror-not-synced"


class CannotSign(RegistryError):
    status_code = 406
    title = "This mirror cannot sign"
    type_slug = "mirror-cannot-sign"


class NoMirrorKey(RegistryError):
    status_code = 404
    title = "This mirror has no signing key"
    type_slug = "mirror-has-no-key"


NO_KEY = (
    "this mirror has no signing key, so it answers plain JSON verdicts only (Accept: application/json). "
    "Make a key with `registry mirror keys --out FILE` and start the mirror with --key-file FILE "
    "(or REGISTRY_MIRROR_KEY_FILE) to answer signed ones."
)


@get("/api/v1/trust", sync_to_thread=False)
def trust(
    request: Request[Any, Any, Any],
    identifier: Annotated[str, Parameter(description="Any identifier the source registry knows")],
    scheme: Annotated[str | None, Parameter(description="Identifier scheme, when ambiguous")] = None,
    at: Annotated[str | None, Parameter(description="Date or RFC 3339 date-time; default now")] = None,
    eqf_level: Annotated[str | None, Parameter(description="EQF level of the credential")] = None,
    field: Annotated[str | None, Parameter(description="ISCED-F field code of the credential")] = None,
    programme: Annotated[str | None, Parameter(description="Programme or micro-credential identifier")] = None,
) -> Response[Any]:
    # On the event loop, as the registry's own lookup: the SQLite read takes tens of microseconds.
    lookup: MirrorLookup = request.app.state.mirror
    key: MirrorKey | None = request.app.state.key
    signed = any(k == b"accept" and JWT_MEDIA_TYPE in v.decode("latin-1") for k, v in request.scope["headers"])
    if signed and key is None:
        raise CannotSign(NO_KEY)
    params = {"identifier": identifier, "scheme": scheme, "at": at, "eqf_level": eqf_level, "field": field}
    payload = lookup.verdict({**params, "programme": programme})
    headers = {"Cache-Control": "no-cache", "Vary": "Accept"}
    if signed and key is not None:
        settings: Settings = request.app.state.settings
        claims = signing.verdict_claims(payload, settings.base_url, settings.verdict_lifetime)
        token = signing.sign_with(key.kid, key.private_key, claims, signing.JWT_TYPE)
        return Response(token, media_type=JWT_MEDIA_TYPE, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)


@get("/.well-known/jwks.json", sync_to_thread=False)
def jwks(request: Request[Any, Any, Any]) -> Response[Any]:
    """The mirror's own public key, which its signed verdicts verify with (not the source registry's keys)."""
    key: MirrorKey | None = request.app.state.key
    if key is None:
        raise NoMirrorKey(NO_KEY)
    return Response({"keys": [key.public_jwk]}, headers={"Cache-Control": "public, max-age=300"})


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_mirror_app(
    path: str | Path, base_url: str = "http://127.0.0.1:8100", key: MirrorKey | None = None
) -> Litestar:
    """base_url: where the mirror is reached (its signed verdicts' issuer); key: the mirror's own signing key."""
    return Litestar(
        route_handlers=[trust, jwks, healthz],
        state=State({"mirror": MirrorLookup(path), "settings": Settings(base_url=base_url), "key": key}),
        exception_handlers={
            RegistryError: registry_error_handler,
            ValidationException: validation_error_handler,
            HTTPException: http_error_handler,
            DBAPIError: database_unavailable_handler,
            Exception: internal_error_handler,
        },
    )


def from_environment() -> Litestar:
    """The mirror app as `registry mirror serve` runs it in a granian worker, which imports it afresh.

    The command has checked the copy and the key and put them in the environment the worker inherits.
    """
    key_file = os.environ.get("REGISTRY_MIRROR_KEY_FILE")
    return create_mirror_app(
        os.environ["REGISTRY_MIRROR_DB"], os.environ["REGISTRY_MIRROR_BASE_URL"], load(key_file) if key_file else None
    )
