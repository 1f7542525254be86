"""The verifier's trust lookup API: anonymous, read-only, cacheable, optionally signed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIFormat, OpenAPIType, Schema
from litestar.params import Body, Parameter

from registry.api_docs import problem_responses
from registry.errors import RegistryError, ValidationFailed
from registry.providers.identifiers import MAX_IDENTIFIER_LENGTH, SCHEMES
from registry.settings import Settings
from registry.timeutil import utcnow
from registry.trust import services, signing
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.vocabulary import EQF_LEVELS
from registry.web import Database, DatabaseDep, SettingsDep

JWT_MEDIA_TYPE = "application/jwt"

IDENTIFIER_EXAMPLES = [
    Example(summary="A DID from a credential", value="did:web:northbridge.example"),
    Example(summary="An issuer URL", value="https://learn.meridian.example/issuer"),
]


def _documented(name: str) -> dict[str, Any]:
    """How the OpenAPI document describes one lookup parameter (parse_query checks it, with per-field messages)."""
    text = OpenAPIType.STRING
    # An empty value means the parameter was not given (as forms and URL builders send it), so the
    # optional parameters document "" as accepted.
    empty = Schema(type=text, max_length=0)
    described: dict[str, dict[str, Any]] = {
        "identifier": {"type": text, "min_length": 1, "max_length": MAX_IDENTIFIER_LENGTH},
        "scheme": {"type": text, "enum": [*SCHEMES, ""]},
        "at": {
            "type": text,
            "any_of": [
                Schema(type=text, format=OpenAPIFormat.DATE),
                Schema(type=text, format=OpenAPIFormat.DATE_TIME),
                empty,
            ],
        },
        "eqf_level": {"type": text, "enum": [*(str(level) for level in EQF_LEVELS), ""]},
        "field": {"type": text, "any_of": [Schema(type=text, pattern="^[0-9]{2,4}$"), empty]},
        "programme": {"type": text, "max_length": 500},
    }
    return {"one_of": None, **described[name]}


@dataclass(frozen=True)
class TrustLookup:
    """What a verdict lookup needs, kept in the application's state as `trust_lookup`.

    Read from there rather than injected: a resolved dependency adds a cleanup group and an exit stack
    to every request. With headers read from the ASGI scope, this took an in-process lookup from about
    200 to 186 µs at 100,000 providers.
    """

    db: Database
    settings: Settings
    signer: signing.VerdictSigner
    # The embedded default reads SQLite directly; elsewhere (PostgreSQL, tests) through the engine.
    reader: SqliteLookupReader | None = None

    def verdict(self, query: services.TrustQuery, now: dt.datetime) -> dict[str, Any]:
        if self.reader is not None:
            return services.verdict(self.reader, query, self.settings, now)
        with self.db.connect() as connection:
            return services.verdict(connection, query, self.settings, now)

    def sign(self, payload: dict[str, Any]) -> str:
        return self.signer.sign(self.db.read, payload, self.settings.base_url, self.settings.verdict_lifetime)


def _header(request: Request[Any, Any, Any], name: bytes) -> str:
    """One request header's values, read from the ASGI scope: cheaper than building request.headers."""
    values = [value.decode("latin-1") for key, value in request.scope["headers"] if key == name]
    return ", ".join(values)


def _signed(request: Request[Any, Any, Any]) -> bool:
    return JWT_MEDIA_TYPE in _header(request, b"accept")


class TrustController(Controller):
    path = "/api/v1"
    tags = ["Trust lookup"]

    @get(
        "/trust",
        summary="Was this issuer quality-assured at a given moment, and on what basis?",
        description=(
            "Evaluates the trust verdict (policy esg-2015/v1) for an identifier at a time, optionally for "
            "the scope of a credential. Send `Accept: application/jwt` for a signed verdict (ES256 JWS, "
            "keys at /.well-known/jwks.json). Unknown identifiers answer 200 with status `unknown`."
        ),
        responses={
            **problem_responses(400),
            304: ResponseSpec(None, description="Not modified: the verdict still has the `If-None-Match` validator"),
        },
    )
    async def trust(
        self,
        request: Request[Any, Any, Any],
        identifier: Annotated[
            str,
            Parameter(
                description="Any registered identifier: DID, issuer URL, domain, DEQAR id, ...",
                examples=IDENTIFIER_EXAMPLES,
                schema_extra=_documented("identifier"),
            ),
        ],
        scheme: Annotated[
            str | None, Parameter(description="Identifier scheme, when ambiguous", schema_extra=_documented("scheme"))
        ] = None,
        at: Annotated[
            str | None,
            Parameter(
                description="Date (2025-03-10) or RFC 3339 date-time; default now. Pass a credential's issuance date.",
                examples=[Example(value="2025-03-10")],
                schema_extra=_documented("at"),
            ),
        ] = None,
        eqf_level: Annotated[
            str | None,
            Parameter(description="EQF level of the credential, 5 to 8", schema_extra=_documented("eqf_level")),
        ] = None,
        field: Annotated[
            str | None, Parameter(description="ISCED-F field code of the credential", schema_extra=_documented("field"))
        ] = None,
        programme: Annotated[
            str | None,
            Parameter(description="Programme or micro-credential identifier", schema_extra=_documented("programme")),
        ] = None,
    ) -> Response[Any]:
        now = utcnow()
        query = services.parse_query(
            {
                "identifier": identifier,
                "scheme": scheme,
                "at": at,
                "eqf_level": eqf_level,
                "field": field,
                "programme": programme,
            },
            now,
        )
        trust_lookup: TrustLookup = request.app.state.trust_lookup
        settings = trust_lookup.settings
        signed = _signed(request)
        if trust_lookup.reader is not None:
            # The embedded default's read takes about 25 µs and never waits for a writer (WAL): cheaper
            # on the event loop than the hop to a worker thread.
            payload = trust_lookup.verdict(query, now)
        else:
            # Anywhere else the database may keep a lookup waiting (a lock, a lost server) up to its
            # timeout; in a worker thread that wait holds this request only, not the whole worker.
            payload = await anyio.to_thread.run_sync(trust_lookup.verdict, query, now)
        tag = services.etag(payload, query.at_given)
        # A signed answer differs from the plain one, so the two never share a validator.
        tag = tag[:-1] + '-jwt"' if signed else tag
        headers = {
            "ETag": tag,
            "Cache-Control": f"public, max-age={settings.verdict_max_age}",
            "Vary": "Accept",
        }
        # If-None-Match compares weakly (RFC 9110): W/ prefixes do not matter.
        if tag.removeprefix("W/") in _if_none_match(request):
            return Response(b"", status_code=304, headers=headers)
        if signed:
            # Signing reads the active key from the database every few minutes.
            if trust_lookup.reader is not None:
                token = trust_lookup.sign(payload)
            else:
                token = await anyio.to_thread.run_sync(trust_lookup.sign, payload)
            return Response(token, media_type=JWT_MEDIA_TYPE, headers=headers)
        return Response(payload, media_type="application/json", headers=headers)

    @post(
        "/trust/batch",
        sync_to_thread=True,
        status_code=200,
        summary="Many trust lookups in one request (at most 1000)",
        request_max_body_size=services.MAX_BATCH_BYTES,
        responses=problem_responses(400, 413),
    )
    def batch(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        data: Annotated[
            dict[str, Any],
            Body(
                description="{'queries': [{identifier, scheme?, at?, eqf_level?, field?, programme?}, ...]}",
                schema_extra={
                    "type": OpenAPIType.OBJECT,
                    "required": ["queries"],
                    "additional_properties": None,
                    "properties": {
                        "queries": Schema(
                            type=OpenAPIType.ARRAY,
                            max_items=services.MAX_BATCH,
                            # Each query is answered on its own: a verdict, or an error naming the query's index.
                            items=Schema(
                                description="A lookup: identifier, and optionally scheme, at, eqf_level, field, "
                                "programme as in GET /api/v1/trust. A query that is not one is answered with an "
                                "error object for its index, not refused with the whole batch.",
                            ),
                        )
                    },
                },
                examples=[
                    Example(
                        value={
                            "queries": [
                                {"identifier": "did:web:northbridge.example"},
                                {"identifier": "DEQARINST9001", "at": "2021-01-01"},
                            ]
                        }
                    )
                ],
            ),
        ],
    ) -> dict[str, Any]:
        queries = data.get("queries") if isinstance(data, dict) else None
        if not isinstance(queries, list):
            raise ValidationFailed({"queries": "send a JSON object with a list `queries`"})
        if len(queries) > services.MAX_BATCH:
            raise ValidationFailed(
                {"queries": f"at most {services.MAX_BATCH} queries per batch; this one has {len(queries)}"}
            )
        now = utcnow()
        results: list[dict[str, Any]] = []
        with db.read() as session:
            for index, item in enumerate(queries):
                try:
                    if not isinstance(item, dict):
                        raise ValidationFailed({"query": "each query is a JSON object with an `identifier`"})
                    query = services.parse_query(item, now)
                    results.append(services.verdict(session, query, settings, now))
                except RegistryError as error:
                    results.append(
                        {
                            "index": index,
                            "error": {
                                "status": error.status_code,
                                "title": error.title,
                                "detail": error.detail,
                                "errors": [{"field": f, "detail": m} for f, m in error.errors.items()],
                            },
                        }
                    )
        return {"results": results}


def _if_none_match(request: Request[Any, Any, Any]) -> set[str]:
    header = _header(request, b"if-none-match")
    if not header:
        return set()
    return {part.strip().removeprefix("W/") for part in header.split(",")}


@get(
    "/.well-known/jwks.json",
    sync_to_thread=True,
    tags=["Trust lookup"],
    summary="Public keys of signed verdicts",
    media_type="application/jwk-set+json",
    responses=problem_responses(),
)
def jwks(db: DatabaseDep) -> Response[Any]:
    with db.read() as session:
        keys = signing.published_keys(session)
    return Response(keys, media_type="application/jwk-set+json", headers={"Cache-Control": "public, max-age=300"})
