"""Trust Registry Query Protocol v2 (ToIP): authorization and recognition queries over the trust verdict.

Authorization asks "may entity_id <action> <resource> under authority_id at this time?": a provider
identifier may issue credentials of a scope while its verdict (policy esg-2015/v1) for that scope is
trusted. Recognition asks "does this registry recognise entity_id (a QA agency)?": yes while the agency
is registered on EQAR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session

from registry.agencies import services as agencies
from registry.agencies.models import Agency
from registry.errors import FieldErrors, NotFound, ValidationFailed
from registry.settings import Settings
from registry.trust import services as trust
from registry.trust import timeline
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.trust.verdict import POLICY

AUTHORIZATION_ACTIONS = ("issue",)
RECOGNITION_ACTIONS = ("recognize",)
RECOGNITION_RESOURCES = ("esg-2015",)
# resource "eqf:7;isced-f:0413;programme:urn:example:msc" -> the verdict's scope parameters.
RESOURCE_KEYS = {"eqf": "eqf_level", "isced-f": "field", "programme": "programme"}
MAX_TEXT = 2048
_TRQP_FIELDS = {
    "identifier": "entity_id",
    "scheme": "entity_id",
    "eqf_level": "resource",
    "field": "resource",
    "programme": "resource",
    "at": "context.time",
}


@dataclass(frozen=True)
class TrqpQuery:
    entity_id: str
    authority_id: str
    action: str
    resource: str | None
    context: dict[str, str]
    at: dt.datetime
    at_given: bool
    scope: dict[str, str]
    # Which spellings the request used, so the answer echoes them.
    assertion_id: str


def _text(errors: FieldErrors, data: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors.add(name, f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        errors.add(name, f"{name} is a string of at most {MAX_TEXT} characters")
        return None
    return value


def parse_query(
    data: Any, now: dt.datetime, actions: tuple[str, ...], resources: tuple[str, ...] | None = None
) -> TrqpQuery:
    """Validate a TRQP request body; the core names (authority_id, action) and the binding's
    (ecosystem_id, assertion_id) are both accepted."""
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "send a JSON object with entity_id, authority_id and action"})
    errors = FieldErrors()
    entity_id = _text(errors, data, "entity_id", required=True)
    authority_id = _text(errors, data, "authority_id")
    ecosystem_id = _text(errors, data, "ecosystem_id")
    if authority_id and ecosystem_id and authority_id != ecosystem_id:
        errors.add("ecosystem_id", "authority_id and ecosystem_id name the same authority; send one of them")
    authority = authority_id or ecosystem_id
    if authority is None and "authority_id" not in errors.errors and "ecosystem_id" not in errors.errors:
        errors.add("authority_id", "authority_id (or ecosystem_id) is required: this registry's identifier")
    action = _text(errors, data, "action")
    assertion_id = _text(errors, data, "assertion_id")
    if action and assertion_id and action != assertion_id:
        errors.add("assertion_id", "assertion_id and action name the same action; send one of them")
    chosen = action or assertion_id or actions[0]
    if chosen not in actions:
        errors.add("action" if action else "assertion_id", f"{chosen!r} is not supported; use {', '.join(actions)}")
    resource = _text(errors, data, "resource")
    scope: dict[str, str] = {}
    if resource is not None:
        if resources is None:
            scope = _parse_resource(errors, resource)
        elif resource not in resources:
            errors.add("resource", f"{resource!r} is not supported; use {', '.join(resources)} or leave it out")
    context = data.get("context", {})
    at, at_given = now, False
    if not isinstance(context, dict) or not all(isinstance(value, str) for value in context.values()):
        errors.add("context", 'context is an object of string values, e.g. {"time": "2025-06-19T11:30:00Z"}')
        context = {}
    elif context.get("time"):
        at, at_given = _parse_time(errors, context["time"], now), True
    errors.raise_if_any()
    assert entity_id is not None and authority is not None
    return TrqpQuery(entity_id, authority, chosen, resource, context, at, at_given, scope, assertion_id or chosen)


def _parse_time(errors: FieldErrors, value: str, now: dt.datetime) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value.upper():
        errors.add("context.time", f"{value!r} is not an RFC 3339 date-time in UTC, e.g. 2025-06-19T11:30:00Z")
        return now
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 is before the first representable UTC moment.
        errors.add("context.time", f"{value!r} is outside the years 0001 to 9999 in UTC")
        return now


def _parse_resource(errors: FieldErrors, resource: str) -> dict[str, str]:
    scope: dict[str, str] = {}
    for part in resource.split(";"):
        key, _, value = part.strip().partition(":")
        name = RESOURCE_KEYS.get(key.strip().lower())
        if name is None or not value.strip() or name in scope:
            errors.add(
                "resource",
                f"{part.strip()!r} is not a credential scope; write eqf:<5-8>, isced-f:<code>, programme:<identifier>, "
                "joined by ';' (e.g. eqf:7;isced-f:0413)",
            )
            return {}
        scope[name] = value.strip()
    return scope


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer(query: TrqpQuery, now: dt.datetime) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "entity_id": query.entity_id,
        "authority_id": query.authority_id,
        "ecosystem_id": query.authority_id,
        "assertion_id": query.assertion_id,
        "action": query.action,
        "time_requested": _stamp(query.at if query.at_given else now),
        "time_evaluated": _stamp(query.at),
    }
    if query.resource is not None:
        answer["resource"] = query.resource
    if query.context:
        answer["context"] = query.context
    return answer


def authority_agency(session: Session, query: TrqpQuery, settings: Settings) -> Agency | None:
    """None when the authority is this registry itself; the agency when it names one; else not found."""
    if query.authority_id.rstrip("/") == settings.base_url:
        return None
    agency = agencies.find_agency(session, query.authority_id)
    if agency is None:
        raise NotFound(
            f"{query.authority_id!r} is neither this registry ({settings.base_url}) nor a QA agency it knows.",
            {"authority_id": "give this registry's identifier or a QA agency's DEQAR id, acronym, name or website"},
        )
    return agency


def authorize(
    bind: Connection | Session | SqliteLookupReader,
    query: TrqpQuery,
    agency: Agency | None,
    settings: Settings,
    now: dt.datetime,
) -> dict[str, Any]:
    """The verdict for the entity's scope, as a TRQP authorization answer."""
    try:
        lookup = trust.parse_query({"identifier": query.entity_id, "at": _stamp(query.at), **query.scope}, now)
        verdict = trust.verdict(bind, lookup, settings, now)
    except ValidationFailed as error:
        # Reported in this protocol's field names.
        renamed = {_TRQP_FIELDS.get(name, name): message for name, message in error.errors.items()}
        raise ValidationFailed(renamed) from None
    if verdict["status"] == "unknown":
        raise NotFound(
            f"No provider in the registry holds the identifier {query.entity_id!r} at {_stamp(query.at)}.",
            {"entity_id": "not a provider identifier known to this registry at that time"},
        )
    authorized = verdict["trusted"]
    reasons = list(verdict["reasons"])
    if authorized and agency is not None and all(entry["agency"]["id"] != agency.id for entry in verdict["basis"]):
        authorized = False
        reasons.append(f"No result by {agency.acronym} is part of this verdict's basis.")
    return {
        **_answer(query, now),
        "authorized": authorized,
        "assertion_verified": authorized,
        "message": " ".join(reasons),
        "status": verdict["status"],
        "policy": POLICY,
        "provider": verdict["provider"],
        "next_review_due": verdict["next_review_due"],
    }


def recognise(session: Session, query: TrqpQuery, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Whether this registry recognises the agency: it was registered on EQAR on the asked day."""
    if query.authority_id.rstrip("/") != settings.base_url:
        raise NotFound(
            f"This registry answers recognition queries for itself only ({settings.base_url}).",
            {"authority_id": f"give this registry's identifier, {settings.base_url}"},
        )
    agency = agencies.find_agency(session, query.entity_id)
    if agency is None:
        raise NotFound(
            f"{query.entity_id!r} is not a QA agency known to this registry.",
            {"entity_id": "give a QA agency's DEQAR id, acronym, name or website"},
        )
    day = query.at.date()
    registered = agency.id is not None and timeline.registered_on(session, agency.id, day)
    message = (
        f"{agency.name} was registered on EQAR on {day.isoformat()}."
        if registered
        else f"{agency.name} was not registered on EQAR on {day.isoformat()}."
    )
    return {**_answer(query, now), "recognized": registered, "message": message, "policy": POLICY}


def metadata(settings: Settings) -> dict[str, Any]:
    base = settings.base_url
    return {
        "id": base,
        "name": settings.organization_name,
        "description": (
            "Education providers quality-assured against the ESG 2015 and the QA agencies registered on EQAR. "
            "Authorization: may a provider identifier issue credentials of a scope (policy esg-2015/v1)? "
            "Recognition: does the registry recognise a QA agency (EQAR registration)?"
        ),
        "controllers": [base],
        "default_egf_id": base,
        "governance_framework": {"id": POLICY, "uri": f"{base}/trust-marks/esg-2015"},
        "supported_queries": ["authorization", "recognition", "metadata"],
        "actions": {"authorization": list(AUTHORIZATION_ACTIONS), "recognition": list(RECOGNITION_ACTIONS)},
        "resource_syntax": "eqf:<5-8>;isced-f:<ISCED-F code>;programme:<identifier> (each part optional)",
        "endpoints": {
            "authorization": f"{base}/trqp/authorization",
            "recognition": f"{base}/trqp/recognition",
            "metadata": f"{base}/trqp/metadata",
        },
    }
