"""The mirror's verdict API: /api/v1/trust answered offline from the local copy, in the registry's format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter
from sqlalchemy.exc import DBAPIError

from registry.errors import RegistryError
from registry.mirror import store
from registry.settings import Settings
from registry.timeutil import utcnow
from registry.trust import services
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.web import (
    database_unavailable_handler,
    http_error_handler,
    internal_error_handler,
    registry_error_handler,
    validation_error_handler,
)


class MirrorLookup:
    """The copy, its source's settings and a lookup reader; re-read when the copy's sync state changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.engine = store.open_store(path)
        self.reader = SqliteLookupReader(self.engine)

    def verdict(self, params: dict[str, Any]) -> dict[str, Any]:
        mirrored = store.read_state(self.engine)
        if mirrored is None:
            raise MirrorEmpty(f"the mirror at {self.path} has not been synced yet: run `registry mirror sync`")
        now = utcnow()
        query = services.parse_query(params, now)
        payload = services.verdict(self.reader, query, store.settings_for(self.path, mirrored), now)
        payload["mirror"] = {"source": mirrored.source, "position": mirrored.position}
        return payload


class MirrorEmpty(RegistryError):
    status_code = 503
    title = "Mirror not synced"
    type_slug = "mirror-not-synced"


@get("/api/v1/trust", sync_to_thread=True)
def trust(
    request: Request[Any, Any, Any],
    identifier: Annotated[str, Parameter(description="Any identifier the source registry knows")],
    scheme: str | None = None,
    at: str | None = None,
    eqf_level: str | None = None,
    field: str | None = None,
    programme: str | None = None,
) -> Response[Any]:
    lookup: MirrorLookup = request.app.state.mirror
    params = {"identifier": identifier, "scheme": scheme, "at": at, "eqf_level": eqf_level, "field": field}
    payload = lookup.verdict({**params, "programme": programme})
    return Response(payload, media_type="application/json", headers={"Cache-Control": "no-cache"})


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_mirror_app(path: str | Path, base_url: str = "http://127.0.0.1:8100") -> Litestar:
    """base_url: where the mirror is reached; its problem answers' types point there."""
    return Litestar(
        route_handlers=[trust, healthz],
        state=State({"mirror": MirrorLookup(path), "settings": Settings(base_url=base_url)}),
        exception_handlers={
            RegistryError: registry_error_handler,
            ValidationException: validation_error_handler,
            HTTPException: http_error_handler,
            DBAPIError: database_unavailable_handler,
            Exception: internal_error_handler,
        },
    )
