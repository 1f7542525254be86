"""OpenID Federation 1.0 endpoints: entity configuration, fetch, list, resolve, trust mark status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.spec import Example
from litestar.params import Parameter
from litestar.response import Stream

from registry.federation import services
from registry.federation.services import FederationError, Subordinate
from registry.timeutil import utcnow
from registry.trust import signing
from registry.trust.api import TrustLookup
from registry.trust.signing import FEDERATION, VerdictSigner
from registry.web import DatabaseDep, SettingsDep

ENTITY_STATEMENT_MEDIA_TYPE = "application/entity-statement+jwt"
RESOLVE_RESPONSE_MEDIA_TYPE = "application/resolve-response+jwt"
TRUST_MARK_STATUS_MEDIA_TYPE = "application/trust-mark-status-response+jwt"
MAX_PAGE = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Federation:
    """What the federation endpoints need, kept in the application's state as `federation`."""

    lookup: TrustLookup
    signer: VerdictSigner

    def read(self, work: Callable[[Any], T]) -> T:
        """Run a lookup on the same read path as /api/v1/trust."""
        if self.lookup.reader is not None:
            return work(self.lookup.reader)
        with self.lookup.db.connect() as connection:
            return work(connection)

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        return self.signer.sign_claims(self.lookup.db.read, claims, typ)

    def statement(self, entry: Subordinate) -> tuple[dict[str, Any], str]:
        settings = self.lookup.settings
        trust_mark = self.sign(services.trust_mark_claims(entry, settings), services.TRUST_MARK_TYPE)
        claims = services.subordinate_statement(entry, settings, trust_mark)
        return claims, self.sign(claims, services.ENTITY_STATEMENT_TYPE)

    def entity_configuration(self) -> str:
        with self.lookup.db.read() as session:
            keys = signing.published_keys(session, FEDERATION)
        claims = services.entity_configuration(self.lookup.settings, keys, utcnow())
        return self.sign(claims, services.ENTITY_STATEMENT_TYPE)


def federation_error(_: Request[Any, Any, Any], error: FederationError) -> Response[Any]:
    return Response(
        {"error": error.error, "error_description": error.description},
        status_code=error.status_code,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _federation(request: Request[Any, Any, Any]) -> Federation:
    federation: Federation = request.app.state.federation
    return federation


def _cache_for(entry: Subordinate) -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={max(0, entry.expires - entry.issued)}"}


SUB = Parameter(
    description="The subordinate's entity identifier: a provider's DID, issuer URL or domain, as in the credential",
    examples=[Example(summary="A DID from a credential", value="did:web:northbridge.example")],
)


@get(
    "/.well-known/openid-federation",
    sync_to_thread=True,
    tags=["OpenID Federation"],
    summary="The registry's entity configuration (trust anchor)",
    description="A signed entity statement about the registry itself: its federation keys and endpoints.",
)
def entity_configuration(request: Request[Any, Any, Any]) -> Response[Any]:
    token = _federation(request).entity_configuration()
    return Response(token, media_type=ENTITY_STATEMENT_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=300"})


class FederationController(Controller):
    path = "/federation"
    tags = ["OpenID Federation"]
    exception_handlers = {FederationError: federation_error}  # noqa: RUF012 (Litestar reads it from the class)

    @get(
        "/fetch",
        sync_to_thread=False,
        summary="Subordinate statement about a quality-assured provider's identifier",
        description=(
            "200 with a signed subordinate statement while the identifier's verdict now is trusted or "
            "trusted_with_conditions; 404 (error not_found) for every other identifier; 400 (invalid_request) "
            "without sub."
        ),
        responses={},
    )
    def fetch(self, request: Request[Any, Any, Any], sub: Annotated[str | None, SUB] = None) -> Response[Any]:
        federation = _federation(request)
        now = utcnow()
        entry = federation.read(lambda bind: services.subordinate(bind, sub, federation.lookup.settings, now))
        _claims, token = federation.statement(entry)
        return Response(token, media_type=ENTITY_STATEMENT_MEDIA_TYPE, headers=_cache_for(entry))

    @get(
        "/list",
        sync_to_thread=True,
        summary="Entity identifiers of every current subordinate (streamed JSON array)",
    )
    def list_subordinates(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        entity_type: Annotated[list[str] | None, Parameter(description="Only entities of these types")] = None,
        trust_marked: Annotated[str | None, Parameter(description="true: only entities holding a trust mark")] = None,
        trust_mark_type: Annotated[str | None, Parameter(description="Only entities holding this trust mark")] = None,
        intermediate: Annotated[str | None, Parameter(description="true: only intermediates (there are none)")] = None,
    ) -> Response[Any]:
        filters = services.ListFilter(
            tuple(entity_type or ()),
            services.parse_bool("trust_marked", trust_marked),
            trust_mark_type,
            services.parse_bool("intermediate", intermediate),
        )
        now = utcnow()

        def body() -> Iterator[bytes]:
            yield b"["
            if not filters.selects_nothing(settings):
                with db.read() as session:
                    for index, value in enumerate(services.subordinate_ids(session, settings, now)):
                        yield (b"," if index else b"") + msgspec.json.encode(value)
            yield b"]"

        return Stream(body(), media_type="application/json")

    @get(
        "/extended_list",
        sync_to_thread=True,
        summary="Paged subordinate listing (OpenID Federation Extended Subordinate Listing)",
    )
    def extended_list(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        from_entity_id: Annotated[str | None, Parameter(description="Start from this entity identifier")] = None,
        limit: Annotated[str | None, Parameter(description=f"Entities per page, 1 to {MAX_PAGE}")] = None,
    ) -> dict[str, Any]:
        size = services.parse_limit(limit, MAX_PAGE)
        with db.read() as session:
            ids = list(services.subordinate_ids(session, settings, utcnow(), page=(from_entity_id, size + 1)))
        page: dict[str, Any] = {"immediate_subordinate_entities": [{"id": value} for value in ids[:size]]}
        if len(ids) > size:
            page["next_entity_id"] = ids[size]
        return page

    @get(
        "/resolve",
        sync_to_thread=False,
        summary="Resolved metadata of a subordinate, with its trust chain (signed)",
        responses={},
    )
    def resolve(
        self,
        request: Request[Any, Any, Any],
        sub: Annotated[str | None, SUB] = None,
        trust_anchor: Annotated[str | None, Parameter(description="This registry's entity identifier")] = None,
        entity_type: Annotated[list[str] | None, Parameter(description="Only metadata of these types")] = None,
    ) -> Response[Any]:
        federation = _federation(request)
        settings = federation.lookup.settings
        now = utcnow()
        entry = federation.read(lambda bind: services.subordinate(bind, sub, settings, now))
        services.check_trust_anchor(trust_anchor, settings)
        statement, token = federation.statement(entry)
        chain = [token, federation.entity_configuration()]
        claims = services.resolve_claims(entry, statement, chain, list(entity_type or ()), settings)
        resolved = federation.sign(claims, services.RESOLVE_RESPONSE_TYPE)
        return Response(resolved, media_type=RESOLVE_RESPONSE_MEDIA_TYPE, headers=_cache_for(entry))

    @post(
        "/trust_mark_status",
        status_code=200,
        summary="Whether a trust mark issued here is still active (form parameter trust_mark)",
        responses={},
    )
    async def trust_mark_status(self, request: Request[Any, Any, Any]) -> Response[Any]:
        federation = _federation(request)
        settings = federation.lookup.settings
        form = await request.form()
        token = form.get("trust_mark")
        now = utcnow()
        mark = token if isinstance(token, str) else None

        def answer() -> str:
            with federation.lookup.db.read() as session:
                keys = signing.published_keys(session, FEDERATION)
            status = federation.read(lambda bind: services.trust_mark_status(bind, mark, keys, settings, now))
            claims = {"iss": settings.base_url, "iat": int(now.timestamp()), "trust_mark": mark, "status": status}
            return federation.sign(claims, services.TRUST_MARK_STATUS_TYPE)

        # The lookup and the signature block; they run beside the event loop, not on it.
        signed = await anyio.to_thread.run_sync(answer)
        return Response(signed, media_type=TRUST_MARK_STATUS_MEDIA_TYPE, headers={"Cache-Control": "no-store"})
