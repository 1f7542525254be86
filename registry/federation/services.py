"""OpenID Federation 1.0: the registry as a trust anchor whose subordinates are the trusted providers' identifiers.

A subordinate statement exists for an identifier exactly while its verdict (policy esg-2015/v1, asked
"now", no scope) is trusted or trusted with conditions: it is built from the same timeline and the
same evaluation as /api/v1/trust, at request time, so a verdict change changes the answer at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Connection, Select, String, Table, literal, or_, select
from sqlmodel import Session

from registry.errors import RegistryError
from registry.providers.dids import InvalidDid, did_key_jwk
from registry.providers.models import ProviderIdentifier
from registry.settings import Settings
from registry.trust import services as trust
from registry.trust.models import TrustTimeline
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.trust.timeline import change_days
from registry.trust.verdict import POLICY, TRUSTED_STATUSES, Policy, Scope, evaluate
from registry.vocabulary import RESOLVING_ORIGINS

ENTITY_STATEMENT_TYPE = "entity-statement+jwt"
RESOLVE_RESPONSE_TYPE = "resolve-response+jwt"
TRUST_MARK_TYPE = "trust-mark+jwt"
TRUST_MARK_STATUS_TYPE = "trust-mark-status-response+jwt"
# The metadata entry, under the registry's own entity type, that carries the verdict itself.
VERDICT_ENTITY_TYPE = "esg_quality_assurance"
SUBORDINATE_ENTITY_TYPES = ("federation_entity", VERDICT_ENTITY_TYPE)
MAX_SUB_LENGTH = 2048
MAX_TRUST_MARK_LENGTH = 16384


class FederationError(Exception):
    """An OpenID Federation error response: JSON {error, error_description} with this status."""

    def __init__(self, status_code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.description = description


def trust_mark_type(settings: Settings) -> str:
    return f"{settings.base_url}/trust-marks/esg-2015"


def endpoints(settings: Settings) -> dict[str, str]:
    base = settings.base_url
    return {
        "federation_fetch_endpoint": f"{base}/federation/fetch",
        "federation_list_endpoint": f"{base}/federation/list",
        "federation_extended_list_endpoint": f"{base}/federation/extended_list",
        "federation_resolve_endpoint": f"{base}/federation/resolve",
        "federation_trust_mark_status_endpoint": f"{base}/federation/trust_mark_status",
        # OpenID Federation Subordinate Events Endpoint 1.0 (draft 00): registry/federation/events.py.
        "federation_subordinate_events_endpoint": f"{base}/federation/subordinate_events",
    }


def entity_configuration(settings: Settings, jwks: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The registry's own entity configuration: a trust anchor, so no authority_hints."""
    issued = int(now.timestamp())
    return {
        "iss": settings.base_url,
        "sub": settings.base_url,
        "iat": issued,
        # Never longer than a retired key stays published (`registry keys rotate --purpose federation`).
        "exp": issued + settings.verdict_lifetime,
        "jwks": jwks,
        "metadata": {
            "federation_entity": {
                **endpoints(settings),
                "organization_name": settings.organization_name,
                "homepage_uri": settings.base_url,
                "contacts": list(settings.contacts),
                "policy_uri": trust_mark_type(settings),
            }
        },
        "trust_mark_issuers": {trust_mark_type(settings): [settings.base_url]},
    }


@dataclass(frozen=True)
class Subordinate:
    """A trusted identifier: what its statement says, and until when that may stay true."""

    sub: str
    verdict: dict[str, Any]
    issued: int
    expires: int


def _require_sub(sub: str | None) -> str:
    if sub is None or not sub.strip():
        raise FederationError(400, "invalid_request", "the sub parameter (the entity identifier) is required")
    if len(sub) > MAX_SUB_LENGTH or "\x00" in sub:
        raise FederationError(
            400, "invalid_request", f"sub is not an entity identifier of at most {MAX_SUB_LENGTH} characters"
        )
    return sub


def subordinate(
    bind: Connection | Session | SqliteLookupReader, sub: str | None, settings: Settings, now: dt.datetime
) -> Subordinate:
    """The subordinate for sub, or a not_found error for anything whose verdict now is not trusted."""
    sub = _require_sub(sub)
    try:
        query = trust.parse_query({"identifier": sub}, now)
        payload, document = trust.verdict_and_timeline(bind, query, settings, now)
    except RegistryError as error:
        # Malformed or ambiguous identifiers name no subordinate.
        raise FederationError(
            404, "not_found", f"{sub} is not a subordinate of this registry: {error.detail}"
        ) from None
    if not payload["trusted"] or document is None:
        reasons = " ".join(payload["reasons"])
        raise FederationError(
            404, "not_found", f"{sub} is not a subordinate of this registry (verdict {payload['status']}). {reasons}"
        )
    issued = int(now.timestamp())
    return Subordinate(sub, payload, issued, statement_expiry(document, settings, now))


def statement_expiry(document: dict[str, Any], settings: Settings, now: dt.datetime) -> int:
    """No later than the verdict's cache lifetime and the start of the next day its timeline may change."""
    expires = int(now.timestamp()) + settings.verdict_max_age
    upcoming = [day for day in change_days(document) if day > now.date()]
    if upcoming:
        change = dt.datetime.combine(min(upcoming), dt.time(), dt.UTC)
        expires = min(expires, int(change.timestamp()))
    return expires


def trust_mark_claims(entry: Subordinate, settings: Settings) -> dict[str, Any]:
    return {
        "iss": settings.base_url,
        "sub": entry.sub,
        "trust_mark_type": trust_mark_type(settings),
        "iat": entry.issued,
        "exp": entry.expires,
        "ref": trust_mark_type(settings),
        # The verdict the mark stands for: the mark stops being active when it changes.
        "verdict_status": entry.verdict["status"],
        "policy": POLICY,
    }


def subordinate_metadata(entry: Subordinate) -> dict[str, Any]:
    verdict = entry.verdict
    provider = verdict["provider"]
    federation_entity: dict[str, Any] = {"organization_name": provider["name"]}
    if provider.get("url"):
        federation_entity["homepage_uri"] = provider["url"]
    if provider.get("country"):
        federation_entity["location"] = provider["country"]
    return {
        "federation_entity": federation_entity,
        VERDICT_ENTITY_TYPE: {
            "status": verdict["status"],
            "trusted": verdict["trusted"],
            "policy": verdict["policy"],
            "evaluated_at": verdict["evaluated_at"],
            "basis": [_basis_summary(result) for result in verdict["basis"]],
            "internal_qa": verdict["internal_qa"]["status"] if verdict["internal_qa"] else None,
            "next_review_due": verdict["next_review_due"],
            "provider_uri": verdict["links"].get("provider"),
        },
    }


def _basis_summary(result: dict[str, Any]) -> dict[str, Any]:
    agency = result["agency"]
    return {
        "agency": agency["acronym"] or agency["name"],
        "activity_type": result["activity_type"],
        "decision": result["decision"],
        "valid_from": result["valid_from"],
        "valid_to": result["valid_to"],
        "report_url": result["report_url"],
    }


def subordinate_statement(entry: Subordinate, settings: Settings, trust_mark: str) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": settings.base_url,
        "sub": entry.sub,
        "iat": entry.issued,
        "exp": entry.expires,
        "source_endpoint": endpoints(settings)["federation_fetch_endpoint"],
        "metadata": subordinate_metadata(entry),
        "trust_marks": [{"trust_mark_type": trust_mark_type(settings), "trust_mark": trust_mark}],
    }
    keys = proven_keys(entry.verdict["identifier"], entry.verdict["scheme"])
    if keys:
        claims["jwks"] = {"keys": keys}
    return claims


def proven_keys(identifier: str, scheme: str) -> list[dict[str, Any]]:
    """The keys the identifier itself fixes: a did:key is its key. Other identifiers' keys are not kept here."""
    did = identifier.strip()
    if scheme != "did" or not did.startswith("did:key:"):
        return []
    try:
        key: dict[str, Any] = dict(did_key_jwk(did))
    except InvalidDid:
        return []
    fingerprint = did.removeprefix("did:key:").split("#", 1)[0]
    key["kid"] = f"{did.split('#', 1)[0]}#{fingerprint}"
    return [key]


def resolve_claims(
    entry: Subordinate,
    statement: dict[str, Any],
    chain: list[str],
    entity_types: list[str],
    settings: Settings,
) -> dict[str, Any]:
    """The resolved metadata of a subordinate; this anchor applies no metadata policy, so it is the statement's."""
    metadata = statement["metadata"]
    if entity_types:
        metadata = {name: value for name, value in metadata.items() if name in entity_types}
    return {
        "iss": settings.base_url,
        "sub": entry.sub,
        "iat": entry.issued,
        "exp": entry.expires,
        "metadata": metadata,
        "trust_marks": statement["trust_marks"],
        "trust_chain": chain,
    }


def check_trust_anchor(trust_anchor: str | None, settings: Settings) -> None:
    if trust_anchor is None or not trust_anchor.strip():
        raise FederationError(400, "invalid_request", "the trust_anchor parameter is required")
    if trust_anchor.rstrip("/") != settings.base_url:
        raise FederationError(
            404, "invalid_trust_anchor", f"this registry resolves only under its own trust anchor, {settings.base_url}"
        )


def trust_mark_status(
    bind: Connection | Session | SqliteLookupReader,
    token: str | None,
    jwks: dict[str, Any],
    settings: Settings,
    now: dt.datetime,
) -> str:
    """active, expired, revoked (the verdict it stood for has changed) or invalid (not a mark of ours)."""
    if token is None or not token.strip():
        raise FederationError(400, "invalid_request", "the trust_mark parameter (the trust mark JWT) is required")
    if len(token) > MAX_TRUST_MARK_LENGTH:
        raise FederationError(
            400, "invalid_request", f"a trust mark of this registry is under {MAX_TRUST_MARK_LENGTH} characters"
        )
    try:
        decoded = jws.deserialize_compact(token.strip(), KeySet.import_key_set(jwks), algorithms=["ES256"])  # type: ignore[arg-type]
        claims = msgspec.json.decode(decoded.payload)
    except (JoseError, ValueError, msgspec.DecodeError):
        return "invalid"
    if (
        not isinstance(claims, dict)
        or decoded.protected.get("typ") != TRUST_MARK_TYPE
        or claims.get("iss") != settings.base_url
        or claims.get("trust_mark_type") != trust_mark_type(settings)
        or not isinstance(claims.get("sub"), str)
        or not isinstance(claims.get("exp"), int)
    ):
        return "invalid"
    if claims["exp"] <= now.timestamp():
        return "expired"
    try:
        current = subordinate(bind, claims["sub"], settings, now)
    except FederationError:
        return "revoked"
    return "active" if current.verdict["status"] == claims.get("verdict_status") else "revoked"


_IDENTIFIER_TABLE: Table = ProviderIdentifier.__table__  # type: ignore[attr-defined]
_TIMELINE_TABLE: Table = TrustTimeline.__table__  # type: ignore[attr-defined]


def _current_identifiers(day: dt.date) -> Select[Any]:
    identifiers, timelines = _IDENTIFIER_TABLE.c, _TIMELINE_TABLE.c
    return (
        select(identifiers.value, timelines.status_until, timelines.provider_id)
        .join_from(_IDENTIFIER_TABLE, _TIMELINE_TABLE, timelines.provider_id == identifiers.provider_id)
        .where(
            identifiers.origin.in_([literal(origin, String) for origin in RESOLVING_ORIGINS]),
            or_(identifiers.valid_from.is_(None), identifiers.valid_from <= day),
            or_(identifiers.valid_to.is_(None), identifiers.valid_to >= day),
        )
    )


@dataclass(frozen=True)
class ListFilter:
    """The list endpoint's filters: some select nothing here, since every subordinate is alike."""

    entity_types: tuple[str, ...] = ()
    trust_marked: bool | None = None
    trust_mark_type: str | None = None
    intermediate: bool | None = None

    def selects_nothing(self, settings: Settings) -> bool:
        if self.entity_types and not set(self.entity_types) & set(SUBORDINATE_ENTITY_TYPES):
            return True
        if self.trust_marked is False or self.intermediate is True:
            return True
        return self.trust_mark_type is not None and self.trust_mark_type != trust_mark_type(settings)


def parse_bool(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value in ("true", "false"):
        return value == "true"
    raise FederationError(400, "invalid_request", f"{name} is true or false")


def parse_limit(value: str | None, largest: int) -> int:
    if value is None:
        return largest
    if not value.isdigit() or not 1 <= int(value) <= largest:
        raise FederationError(400, "invalid_request", f"limit is a whole number from 1 to {largest}")
    return int(value)


def subordinate_ids(
    session: Session, settings: Settings, now: dt.datetime, page: tuple[str | None, int] | None = None
) -> Iterator[str]:
    """Every current subordinate's entity identifier, read in batches so the list never sits in memory.

    Timelines carry today's unscoped status; one whose status may have changed since the last sweep
    is evaluated again here, as a fetch would.
    """
    identifiers, timelines = _IDENTIFIER_TABLE.c, _TIMELINE_TABLE.c
    day = now.date()
    statement = _current_identifiers(day).where(
        or_(timelines.current_status.in_(TRUSTED_STATUSES), timelines.status_until <= day)
    )
    if page is None:
        statement = statement.order_by(identifiers.id)
    else:
        # Paged listing: in identifier order, from an identifier on (inclusive), at most so many.
        start, size = page
        if start is not None:
            statement = statement.where(identifiers.value >= start)
        statement = statement.order_by(identifiers.value).limit(size)
    policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
    stale: dict[int, bool] = {}
    # Options on the statement, not the connection: those would outlive this query on a pooled connection.
    rows = session.connection().execute(statement.execution_options(yield_per=1000))
    for value, until, provider_id in rows:
        if until is not None and until <= day:
            if provider_id not in stale:
                timeline = session.get(TrustTimeline, provider_id)
                stale[provider_id] = timeline is not None and (
                    evaluate(timeline.document, day, Scope(), policy).status in TRUSTED_STATUSES
                )
            if not stale[provider_id]:
                continue
        yield value
