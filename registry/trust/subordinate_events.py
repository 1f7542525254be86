"""OpenID Federation subordinate events, derived from the change feed as it records a change.

A subordinate of this registry is an identifier (its value is the entity identifier) of a provider
whose unscoped verdict today is trusted or trusted with conditions, as /federation/fetch answers.
When the feed records a provider's new entry, its subordinates before and after are compared:

- registration: an identifier became a subordinate (a result recorded, an identifier added or proven, ...);
- revocation: it stopped being one (a result withdrawn or revoked, an identifier removed, the provider
  merged away), or suspension when the provider is now suspended;
- metadata_update: it stays one but what its statement says changed (name, country, type, the verdict's
  status or the results it rests on).

A change caused by time alone (a result reaching its end) is no write and makes no event: the
subordinate statement's `exp` never reaches past the next day its verdict may change.
(Event names: OpenID Federation Subordinate Events Endpoint 1.0, draft 00.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from registry.trust.verdict import TRUSTED_STATUSES

REGISTRATION = "registration"
REVOCATION = "revocation"
SUSPENSION = "suspension"
METADATA_UPDATE = "metadata_update"
EVENT_TYPES = (REGISTRATION, REVOCATION, SUSPENSION, METADATA_UPDATE)


class _Identifier(msgspec.Struct):
    value: str
    valid_from: str | None = None
    valid_to: str | None = None


class _Interval(msgspec.Struct):
    status: str
    results: list[int]
    to: str | None = None
    start: str = msgspec.field(name="from", default="")


class _Entry(msgspec.Struct):
    """The part of a trust list entry that decides its subordinates (the timeline is not decoded)."""

    name: str
    country: str | None
    type: str | None
    identifiers: list[_Identifier]
    status_intervals: list[_Interval]


_decode = msgspec.json.Decoder(_Entry).decode


def _status(entry: _Entry, day: str) -> _Interval | None:
    for interval in entry.status_intervals:
        if interval.start <= day and (interval.to is None or day < interval.to):
            return interval
    return None


def subordinates(entry_text: str | None, day: dt.date) -> tuple[dict[str, tuple[Any, ...]], str | None]:
    """The entry's subordinates on day (entity identifier -> what its statement says) and its status that day."""
    if entry_text is None:
        return {}, None
    entry = _decode(entry_text)
    today = day.isoformat()
    interval = _status(entry, today)
    if interval is None:
        return {}, None
    if interval.status not in TRUSTED_STATUSES:
        return {}, interval.status
    metadata = (entry.name, entry.country, entry.type, interval.status, tuple(interval.results))
    held = {
        identifier.value: metadata
        for identifier in entry.identifiers
        if (identifier.valid_from is None or identifier.valid_from <= today)
        and (identifier.valid_to is None or identifier.valid_to >= today)
    }
    return held, interval.status


def events_for(before: str | None, after: str | None, day: dt.date) -> list[tuple[str, str, str]]:
    """(sub, event, description) for one provider whose entry changed from before to after, in sub order."""
    old, _old_status = subordinates(before, day)
    new, new_status = subordinates(after, day)
    events: list[tuple[str, str, str]] = []
    for sub in sorted(old.keys() | new.keys()):
        if sub not in old:
            events.append((sub, REGISTRATION, f"verdict {new[sub][3]}"))
        elif sub not in new:
            if after is None:
                events.append((sub, REVOCATION, "the provider no longer has a resolving identifier here"))
            elif new_status == "suspended":
                events.append((sub, SUSPENSION, "the provider is suspended"))
            elif new_status in TRUSTED_STATUSES:
                events.append((sub, REVOCATION, "the identifier is no longer registered for the provider"))
            else:
                events.append((sub, REVOCATION, f"verdict {new_status or 'unknown'}"))
        elif old[sub] != new[sub]:
            events.append((sub, METADATA_UPDATE, f"verdict {new[sub][3]}"))
    return events
