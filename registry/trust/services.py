"""Trust lookups: parse a verifier's question, resolve the identifier, evaluate the verdict."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import Connection, Select, String, Table, Text, and_, bindparam, cast, literal, or_, select
from sqlmodel import Session

from registry.errors import FieldErrors, ValidationFailed
from registry.providers.identifiers import SCHEMES, InvalidIdentifier, guess_scheme, normalise
from registry.providers.models import ProviderIdentifier
from registry.settings import Settings
from registry.timeutil import EXPECTED_FORMS, MomentError, format_moment, parse_moment
from registry.trust.models import TrustTimeline
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.trust.verdict import POLICY, Policy, Scope, evaluate
from registry.vocabulary import EQF_LEVELS, RESOLVING_ORIGINS

MAX_BATCH = 1000
# Room for a full batch of long identifiers (at most 2,000 characters each) and their scopes.
MAX_BATCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class TrustQuery:
    identifier: str
    scheme: str | None
    at: dt.datetime
    scope: Scope
    at_given: bool


def parse_query(params: dict[str, Any], now: dt.datetime) -> TrustQuery:
    """Validate a verifier's parameters; every problem is reported per field."""
    errors = FieldErrors()
    identifier = params.get("identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        errors.add("identifier", "give the identifier to check, e.g. did:web:learn.example")
        identifier = ""
    scheme = params.get("scheme") or None
    if scheme is not None and scheme not in SCHEMES:
        errors.add("scheme", f"unknown scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}")
    at = _parse_at(errors, params.get("at"), now)
    eqf_level = _parse_eqf(errors, params.get("eqf_level"))
    field = params.get("field") or None
    if field is not None and (not isinstance(field, str) or not field.isdigit() or not 2 <= len(field) <= 4):
        errors.add("field", f"{field!r} is not an ISCED-F code (2 to 4 digits, e.g. 0413)")
    programme = params.get("programme") or None
    if programme is not None and (not isinstance(programme, str) or len(programme) > 500):
        errors.add("programme", "a programme identifier is a string of at most 500 characters")
    errors.raise_if_any()
    return TrustQuery(
        identifier=identifier.strip(),
        scheme=scheme,
        at=at,
        scope=Scope(eqf_level=eqf_level, field=field, programme=programme.strip() if programme else None),
        at_given=params.get("at") not in (None, ""),
    )


def _parse_at(errors: FieldErrors, value: Any, now: dt.datetime) -> dt.datetime:
    if value in (None, ""):
        return now
    if not isinstance(value, str):
        errors.add("at", f"give a date or date-time as a string: {EXPECTED_FORMS}")
        return now
    try:
        return parse_moment(value.strip())
    except MomentError as error:
        errors.add("at", str(error))
        return now


def _parse_eqf(errors: FieldErrors, value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        level = int(value)
    except (TypeError, ValueError):
        errors.add("eqf_level", f"{value!r} is not a number; the EQF level is 5, 6, 7 or 8")
        return None
    if isinstance(value, bool) or level not in EQF_LEVELS or str(value).strip() not in {str(level)}:
        errors.add("eqf_level", "the EQF level of higher-education credentials is 5, 6, 7 or 8")
        return None
    return level


# Verifiers ask about the same issuers again and again; normalising in every scheme is the costly part.
@lru_cache(maxsize=16384)
def candidates(identifier: str, scheme: str | None) -> tuple[tuple[str, str], ...]:
    """(scheme, normalised) pairs an identifier may stand for; the first matching wins in order."""
    if scheme is not None:
        try:
            return ((scheme, normalise(scheme, identifier)),)
        except InvalidIdentifier as error:
            raise ValidationFailed({"identifier": str(error)}) from None
    guessed = guess_scheme(identifier)
    if guessed is not None:
        try:
            value = normalise(guessed, identifier)
        except InvalidIdentifier as error:
            raise ValidationFailed({"identifier": str(error)}) from None
        pairs = [(guessed, value)]
        if guessed == "url":
            host = urlsplit(value).hostname
            if host:
                pairs.append(("domain", host))
        return tuple(pairs)
    pairs = []
    for name in SCHEMES:
        if name in ("did", "url"):
            continue
        try:
            pairs.append((name, normalise(name, identifier)))
        except InvalidIdentifier:
            continue
    if not pairs:
        raise ValidationFailed(
            {"identifier": f"{identifier!r} is not a well-formed identifier in any known scheme; give `scheme`"}
        )
    return tuple(pairs)


_IDENTIFIER_TABLE: Table = ProviderIdentifier.__table__  # type: ignore[attr-defined]
_TIMELINE_TABLE: Table = TrustTimeline.__table__  # type: ignore[attr-defined]
_IDENTIFIERS = _IDENTIFIER_TABLE.c
_TIMELINES = _TIMELINE_TABLE.c
_DOCUMENT = msgspec.json.Decoder(dict[str, Any])


@lru_cache(maxsize=32)
def _resolve_statement(pairs: int) -> Select[tuple[str, str, int, str]]:
    """The lookup for that many candidate pairs, built once with bound parameters so it compiles once.

    The document comes as text for msgspec to decode, much faster than the JSON type's json.loads.
    """
    which = or_(
        *(
            and_(_IDENTIFIERS.scheme == bindparam(f"s{i}"), _IDENTIFIERS.normalised == bindparam(f"v{i}"))
            for i in range(pairs)
        )
    )
    return (
        select(_IDENTIFIERS.scheme, _IDENTIFIERS.normalised, _IDENTIFIERS.provider_id, cast(_TIMELINES.document, Text))
        .join_from(_IDENTIFIER_TABLE, _TIMELINE_TABLE, _TIMELINES.provider_id == _IDENTIFIERS.provider_id)
        .where(
            which,
            # Plain bound values, not an expanding IN: that would re-render the SQL on every execution.
            _IDENTIFIERS.origin.in_([literal(origin, String) for origin in RESOLVING_ORIGINS]),
            or_(_IDENTIFIERS.valid_from.is_(None), _IDENTIFIERS.valid_from <= bindparam("on")),
            or_(_IDENTIFIERS.valid_to.is_(None), _IDENTIFIERS.valid_to >= bindparam("on")),
        )
    )


def resolve(
    bind: Connection | Session | SqliteLookupReader, identifier: str, scheme: str | None, on: dt.date
) -> tuple[str, str, dict[str, Any] | None]:
    """The scheme, normalised value and timeline document of the provider the identifier named on that day."""
    pairs = candidates(identifier, scheme)
    order = {pair: index for index, pair in enumerate(pairs)}
    parameters: dict[str, Any] = {"on": on}
    for index, (pair_scheme, value) in enumerate(pairs):
        parameters[f"s{index}"] = pair_scheme
        parameters[f"v{index}"] = value
    statement = _resolve_statement(len(pairs))
    if isinstance(bind, Connection | Session):
        rows = list(bind.execute(statement, parameters).all())
    else:
        rows = bind.timeline_rows(statement, parameters)
    rows = sorted(rows, key=lambda row: order[(row[0], row[1])])
    if not rows:
        return pairs[0][0], pairs[0][1], None
    if scheme is None and guess_scheme(identifier) is None:
        providers = {row[2] for row in rows}
        if len(providers) > 1:
            matched = sorted({row[0] for row in rows})
            raise ValidationFailed(
                {
                    "scheme": f"this identifier names different providers in the schemes {', '.join(matched)}; "
                    "give `scheme`"
                },
                detail="The identifier is ambiguous: it names more than one provider. Say which scheme it is in.",
            )
    return rows[0][0], rows[0][1], _DOCUMENT.decode(rows[0][3])


def verdict(
    bind: Connection | Session | SqliteLookupReader, query: TrustQuery, settings: Settings, now: dt.datetime
) -> dict[str, Any]:
    return verdict_and_timeline(bind, query, settings, now)[0]


def verdict_and_timeline(
    bind: Connection | Session | SqliteLookupReader, query: TrustQuery, settings: Settings, now: dt.datetime
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The verdict and the timeline document it was read from (None for an unknown identifier)."""
    scheme, _normalised, document = resolve(bind, query.identifier, query.scheme, query.at.date())
    payload: dict[str, Any] = {
        "identifier": query.identifier,
        "scheme": scheme,
        "at": format_moment(query.at),
        "evaluated_at": format_moment(now),
        "policy": POLICY,
    }
    if document is None:
        payload.update(
            trusted=False,
            status="unknown",
            provider=None,
            basis=[],
            internal_qa=None,
            next_review_due=None,
            reasons=["No provider in the registry holds this identifier at this date."],
            links={},
        )
        return payload, None
    policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
    outcome = evaluate(document, query.at.date(), query.scope, policy)
    provider = document["provider"]
    payload.update(
        trusted=outcome.trusted,
        status=outcome.status,
        provider=provider,
        basis=[_basis(entry) for entry in outcome.basis],
        internal_qa=outcome.internal_qa,
        next_review_due=outcome.next_review_due,
        reasons=outcome.reasons,
        links={"provider": f"{settings.base_url}/providers/{provider['id']}"},
    )
    return payload, document


def _basis(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "counts_from"}


def etag(payload: dict[str, Any], at_given: bool = True) -> str:
    """A validator that changes with the verdict, not with the moment it was computed.

    Asked "as of now", the verdict is that of the day, so the validator is a weak one covering the
    day: a cache revalidates it all day long instead of missing every second.
    """
    stable = {key: value for key, value in payload.items() if key != "evaluated_at"}
    if not at_given:
        stable["at"] = stable["at"][:10]
    digest = hashlib.blake2b(msgspec.json.encode(stable), digest_size=16).hexdigest()
    return f'"{digest}"' if at_given else f'W/"{digest}"'
