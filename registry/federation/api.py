"""OpenID Federation 1.0 endpoints: entity configuration, fetch, list, resolve, trust mark status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIMediaType, OpenAPIType, RequestBody, Schema
from litestar.params import Parameter
from litestar.response import Stream

from registry.api_docs import (
    NOT_BLANK_PATTERN,
    FederationOperation,
    federation_error_responses,
    problem_responses,
    signed_response,
)
from registry.federation import events, services
from registry.federation.services import FederationError, Subordinate
from registry.request_checks import refuse_unreadable_input
from registry.timeutil import utcnow
from registry.trust import signing
from registry.trust.api import TrustLookup
from registry.trust.signing import FEDERATION, VerdictSigner
from registry.web import DatabaseDep, SettingsDep

ENTITY_STATEMENT_MEDIA_TYPE = "application/entity-statement+jwt"
RESOLVE_RESPONSE_MEDIA_TYPE = "application/resolve-response+jwt"
TRUST_MARK_STATUS_MEDIA_TYPE = "application/trust-mark-status-response+jwt"
EVENTS_STATEMENT_MEDIA_TYPE = "application/entity-events-statement+jwt"
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


@dataclass
class TrustMarkStatusOperation(FederationOperation):
    """The handler reads its form itself (a missing trust_mark is a federation error), so the document states it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        trust_mark = Schema(
            type=OpenAPIType.STRING,
            min_length=1,
            max_length=services.MAX_TRUST_MARK_LENGTH,
            pattern=NOT_BLANK_PATTERN,
            description="The trust mark JWT to check",
        )
        form = Schema(type=OpenAPIType.OBJECT, properties={"trust_mark": trust_mark}, required=["trust_mark"])
        self.request_body = RequestBody(
            content={"application/x-www-form-urlencoded": OpenAPIMediaType(schema=form)}, required=True
        )


@dataclass
class ExtendedListItem:
    id: str


@dataclass
class ExtendedListPage:
    """One page of the extended subordinate listing; next_entity_id starts the next page, if there is one."""

    immediate_subordinate_entities: list[ExtendedListItem]
    next_entity_id: str | None = None


def federation_error(_: Request[Any, Any, Any], error: FederationError) -> Response[Any]:
    return Response(
        {"error": error.error, "error_description": error.description},
        status_code=error.status_code,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


# The one parameter OpenID Federation lets a client repeat; any other given twice is ambiguous.
REPEATABLE = frozenset({"entity_type"})


async def single_values(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """The checks every request passes (NUL characters), then: no single-valued parameter given twice."""
    refused = await refuse_unreadable_input(request)
    if refused is not None:
        return refused
    for name in request.query_params:
        if name not in REPEATABLE and len(request.query_params.getall(name)) > 1:
            error = FederationError(400, "invalid_request", f"{name} is given more than once; send it once")
            return federation_error(request, error)
    return None


def _federation(request: Request[Any, Any, Any]) -> Federation:
    federation: Federation = request.app.state.federation
    return federation


def _cache_for(entry: Subordinate) -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={max(0, entry.expires - entry.issued)}"}


NOT_EMPTY = {"one_of": None, "type": "string", "min_length": 1, "pattern": NOT_BLANK_PATTERN}
# Required in the document; the handler answers a missing one itself, with OpenID Federation's invalid_request.
SUB = Parameter(
    description="The subordinate's entity identifier: a provider's DID, issuer URL or domain, as in the credential",
    examples=[Example(summary="A DID from a credential", value="did:web:northbridge.example")],
    required=True,
    schema_extra={**NOT_EMPTY, "max_length": services.MAX_SUB_LENGTH},
)
# Query parameters are text: the document states no null alternative a query string cannot carry.
TEXT = {"one_of": None, "type": "string"}
STRINGS = {"one_of": None, "type": "array", "items": {"type": "string"}}
TRUE_OR_FALSE = {"one_of": None, "type": "string", "enum": ["true", "false"]}
STATEMENT = "A signed entity statement (compact JWS)"


@get(
    "/.well-known/openid-federation",
    sync_to_thread=True,
    tags=["OpenID Federation"],
    summary="The registry's entity configuration (trust anchor)",
    description="A signed entity statement about the registry itself: its federation keys and endpoints.",
    responses={**problem_responses(400), **signed_response(ENTITY_STATEMENT_MEDIA_TYPE, STATEMENT)},
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
        operation_class=FederationOperation,
        before_request=single_values,
        sync_to_thread=False,
        summary="Subordinate statement about a quality-assured provider's identifier",
        description=(
            "200 with a signed subordinate statement while the identifier's verdict now is trusted or "
            "trusted_with_conditions; 404 (error not_found) for every other identifier; 400 (invalid_request) "
            "without sub."
        ),
        responses={**federation_error_responses(400, 404), **signed_response(ENTITY_STATEMENT_MEDIA_TYPE, STATEMENT)},
    )
    def fetch(self, request: Request[Any, Any, Any], sub: Annotated[str | None, SUB] = None) -> Response[Any]:
        federation = _federation(request)
        now = utcnow()
        entry = federation.read(lambda bind: services.subordinate(bind, sub, federation.lookup.settings, now))
        _claims, token = federation.statement(entry)
        return Response(token, media_type=ENTITY_STATEMENT_MEDIA_TYPE, headers=_cache_for(entry))

    @get(
        "/list",
        operation_class=FederationOperation,
        before_request=single_values,
        sync_to_thread=True,
        summary="Entity identifiers of every current subordinate (streamed JSON array)",
        responses={
            **federation_error_responses(400),
            200: ResponseSpec(list[str], description="Entity identifiers", generate_examples=False),
        },
    )
    def list_subordinates(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        entity_type: Annotated[
            list[str] | None, Parameter(description="Only entities of these types", schema_extra=STRINGS)
        ] = None,
        trust_marked: Annotated[
            str | None, Parameter(description="true: only entities holding a trust mark", schema_extra=TRUE_OR_FALSE)
        ] = None,
        trust_mark_type: Annotated[
            str | None, Parameter(description="Only entities holding this trust mark", schema_extra=TEXT)
        ] = None,
        intermediate: Annotated[
            str | None, Parameter(description="true: only intermediates (there are none)", schema_extra=TRUE_OR_FALSE)
        ] = None,
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
        operation_class=FederationOperation,
        before_request=single_values,
        sync_to_thread=True,
        summary="Paged subordinate listing (OpenID Federation Extended Subordinate Listing)",
        responses={
            **federation_error_responses(400),
            200: ResponseSpec(ExtendedListPage, description="One page of entities", generate_examples=False),
        },
    )
    def extended_list(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        from_entity_id: Annotated[
            str | None, Parameter(description="Start from this entity identifier", schema_extra=TEXT)
        ] = None,
        limit: Annotated[
            str | None,
            Parameter(
                description=f"Entities per page, 1 to {MAX_PAGE}",
                schema_extra={"one_of": None, "type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            ),
        ] = None,
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
        operation_class=FederationOperation,
        before_request=single_values,
        sync_to_thread=False,
        summary="Resolved metadata of a subordinate, with its trust chain (signed)",
        description=(
            "200 with a signed resolve response while the identifier's verdict now is trusted or "
            "trusted_with_conditions; 404 not_found for every other identifier, invalid_trust_anchor for a trust "
            "anchor other than this registry; 400 invalid_request without sub or trust_anchor."
        ),
        responses={
            **federation_error_responses(400, 404),
            **signed_response(RESOLVE_RESPONSE_MEDIA_TYPE, "A signed resolve response (compact JWS)"),
        },
    )
    def resolve(
        self,
        request: Request[Any, Any, Any],
        sub: Annotated[str | None, SUB] = None,
        trust_anchor: Annotated[
            str | None,
            Parameter(
                description="This registry's entity identifier",
                required=True,
                schema_extra=NOT_EMPTY,
            ),
        ] = None,
        entity_type: Annotated[
            list[str] | None, Parameter(description="Only metadata of these types", schema_extra=STRINGS)
        ] = None,
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
        operation_class=TrustMarkStatusOperation,
        before_request=single_values,
        status_code=200,
        summary="Whether a trust mark issued here is still active (form parameter trust_mark)",
        description=(
            "Send the trust mark JWT as form parameter `trust_mark`. The signed answer's `status` is active, "
            "expired, revoked (the verdict it stood for has changed) or invalid (not a mark of this registry)."
        ),
        responses={
            **federation_error_responses(400),
            **signed_response(TRUST_MARK_STATUS_MEDIA_TYPE, "A signed trust mark status response (compact JWS)"),
        },
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

    @get(
        "/subordinate_events",
        operation_class=FederationOperation,
        before_request=single_values,
        summary="Subordinate events: registrations, revocations, suspensions, metadata updates (signed, paged)",
        description=(
            "OpenID Federation Subordinate Events Endpoint (draft 00): a signed statement (typ "
            "`entity-events-statement+jwt`, federation keys) whose `federation_registration_events` lists, in commit "
            "order, `registration`, `revocation`, `suspension` and `metadata_update` events, each with `iat`, "
            "`event`, `event_description`, `sub` and its `cursor`. With `sub`, one subordinate's history (404 "
            "not_found if it never was one); without, every subordinate's. Ask again with `after` = `next_cursor`; "
            "`more` says whether a full page was cut. 400 invalid_request for a cursor not given out here."
        ),
        responses={
            **federation_error_responses(400, 404),
            **signed_response(EVENTS_STATEMENT_MEDIA_TYPE, "A signed subordinate events statement (compact JWS)"),
        },
    )
    async def subordinate_events(
        self,
        request: Request[Any, Any, Any],
        sub: Annotated[
            str | None,
            Parameter(
                description="The subordinate's entity identifier; without it, every subordinate's events",
                schema_extra={**TEXT, "max_length": services.MAX_SUB_LENGTH},
            ),
        ] = None,
        after: Annotated[
            str | None,
            Parameter(
                description="The `next_cursor` of the last answer: only events after it",
                schema_extra={**TEXT, "pattern": "^[0-9]{1,19}-[0-9]{1,9}$"},
            ),
        ] = None,
        limit: Annotated[
            str | None,
            Parameter(
                description=f"Events per page, 1 to {events.MAX_EVENTS}",
                schema_extra={"one_of": None, "type": "integer", "minimum": 1, "maximum": events.MAX_EVENTS},
            ),
        ] = None,
    ) -> Response[Any]:
        federation = _federation(request)
        settings = federation.lookup.settings
        subject = events.check_sub(sub)
        cursor = events.parse_cursor(after)
        size = services.parse_limit(limit, events.MAX_EVENTS)

        def answer() -> str:
            with federation.lookup.db.connect() as connection:
                rows, more = events.read_events(connection, subject, cursor, size)
            claims = events.claims(settings, subject, cursor, rows, more, utcnow())
            return federation.sign(claims, events.EVENTS_STATEMENT_TYPE)

        signed = await anyio.to_thread.run_sync(answer)
        return Response(signed, media_type=EVENTS_STATEMENT_MEDIA_TYPE, headers={"Cache-Control": "no-store"})
