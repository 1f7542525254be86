"""TRQP v2 RESTful binding under /trqp: authorization, recognition, metadata, and a discovery document."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.spec import Example
from litestar.params import Body

from registry.api_docs import NOT_BLANK_PATTERN, problem_responses
from registry.timeutil import utcnow
from registry.trqp import services
from registry.trust.api import TrustLookup
from registry.web import DatabaseDep, SettingsDep, problem

AUTHORIZATION_EXAMPLE = {
    "entity_id": "did:web:northbridge.example",
    "authority_id": "http://127.0.0.1:8000",
    "action": "issue",
    "resource": "eqf:7;isced-f:0413",
    "context": {"time": "2025-06-19T11:30:00Z"},
}
RECOGNITION_EXAMPLE = {
    "entity_id": "DAC",
    "authority_id": "http://127.0.0.1:8000",
    "action": "recognize",
    "resource": "esg-2015",
    "context": {"time": "2025-06-19T10:00:00Z"},
}


def too_deep(request: Request[Any, Any, Any], _: RecursionError) -> Response[Any]:
    """A body nested past the JSON decoder's depth is a malformed request, not a server fault."""
    return problem(
        request,
        400,
        "Invalid input",
        "The request body is nested too deeply to be a TRQP request.",
        "invalid-input",
        {"body": "send a flat JSON object with entity_id, authority_id and action"},
    )


def _request_schema(actions: tuple[str, ...], resource: dict[str, Any]) -> dict[str, Any]:
    """The body's JSON Schema; the aliases ecosystem_id and assertion_id are described, not listed, as either
    name may be sent but not two different values."""
    text = {"type": "string", "minLength": 1, "maxLength": services.MAX_TEXT, "pattern": NOT_BLANK_PATTERN}
    return {
        "one_of": None,
        "type": "object",
        "required": ["entity_id", "authority_id"],
        "properties": {
            "entity_id": text,
            "authority_id": text,
            "action": {"type": "string", "enum": list(actions)},
            "resource": resource,
            "context": {
                "type": "object",
                "properties": {"time": {"type": "string", "format": "date-time"}},
                "additionalProperties": {"type": "string"},
            },
        },
    }


AUTHORIZATION_SCHEMA = _request_schema(
    services.AUTHORIZATION_ACTIONS,
    {"type": "string", "pattern": r"^(eqf:[5-8]|isced-f:[0-9]{2,4}|programme:[^;\s]{1,500})$"},
)
RECOGNITION_SCHEMA = _request_schema(
    services.RECOGNITION_ACTIONS, {"type": "string", "enum": list(services.RECOGNITION_RESOURCES)}
)


class TrqpController(Controller):
    path = "/trqp"
    tags = ["Trust Registry Query Protocol"]
    exception_handlers = {RecursionError: too_deep}  # noqa: RUF012 (Litestar reads it from the class)

    @post(
        "/authorization",
        sync_to_thread=False,
        status_code=200,
        summary="May this provider identifier issue credentials of this scope? (TRQP v2 authorization)",
        description=(
            "entity_id: a provider identifier (DID, issuer URL, domain, DEQAR id, ...). authority_id (or "
            "ecosystem_id): this registry's identifier, or a QA agency's (then only results by that agency "
            "count). action (or assertion_id): `issue`. resource (optional): the credential's scope as "
            "`eqf:<5-8>`, `isced-f:<code>`, `programme:<identifier>`, joined by `;`. context.time: RFC 3339, "
            "default now. The answer carries `authorized` and `assertion_verified` (the verdict's `trusted`), "
            "the verdict's `status` and its reasons as `message`. Unknown entity: 404 problem details."
        ),
        responses=problem_responses(400, 404),
    )
    def authorization(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[
            Any,
            Body(
                description="A TRQP authorization request",
                examples=[Example(value=AUTHORIZATION_EXAMPLE)],
                schema_extra=AUTHORIZATION_SCHEMA,
            ),
        ],
    ) -> dict[str, Any]:
        lookup: TrustLookup = request.app.state.trust_lookup
        now = utcnow()
        query = services.parse_query(data, now, services.AUTHORIZATION_ACTIONS)
        agency = None
        if query.authority_id.rstrip("/") != lookup.settings.base_url:
            with lookup.db.read() as session:
                agency = services.authority_agency(session, query, lookup.settings)
        if lookup.reader is not None:
            return services.authorize(lookup.reader, query, agency, lookup.settings, now)
        with lookup.db.connect() as connection:
            return services.authorize(connection, query, agency, lookup.settings, now)

    @post(
        "/recognition",
        sync_to_thread=True,
        status_code=200,
        summary="Does this registry recognise a QA agency? (TRQP v2 recognition: EQAR registration)",
        description=(
            "entity_id: a QA agency by DEQAR id, acronym, name or website. authority_id (or ecosystem_id): this "
            "registry's identifier. action (or assertion_id): `recognize`. resource (optional): `esg-2015`. "
            "`recognized` is true when the agency was registered on EQAR on context.time's date (default today)."
        ),
        responses=problem_responses(400, 404),
    )
    def recognition(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        data: Annotated[
            Any,
            Body(
                description="A TRQP recognition request",
                examples=[Example(value=RECOGNITION_EXAMPLE)],
                schema_extra=RECOGNITION_SCHEMA,
            ),
        ],
    ) -> dict[str, Any]:
        now = utcnow()
        query = services.parse_query(data, now, services.RECOGNITION_ACTIONS, services.RECOGNITION_RESOURCES)
        with db.read() as session:
            return services.recognise(session, query, settings, now)

    @get("/metadata", sync_to_thread=False, summary="The registry's TRQP metadata")
    def metadata(self, settings: SettingsDep) -> dict[str, Any]:
        return services.metadata(settings)


@get(
    ["/.well-known/trqp-configuration", "/.well-known/trqp-metadata"],
    sync_to_thread=False,
    tags=["Trust Registry Query Protocol"],
    summary="TRQP discovery: the registry's identifier, queries, governance framework and endpoints",
)
def trqp_discovery(settings: SettingsDep) -> dict[str, Any]:
    return services.metadata(settings)
