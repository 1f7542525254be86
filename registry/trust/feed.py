"""The trust list's entries and the change feed that follows them.

Each provider with a resolving identifier has one entry: its identifiers and its whole trust
timeline, stored as canonical JSON. When a commit changes an entry (the unit of work calls
record() just before committing) the entry gets the next feed position.

Positions become visible in commit order. A writer takes its positions by updating the single
counter row; the row lock it then holds until its commit makes the next writer wait for that
commit before it can take its own. So a reader that sees position N sees every position below N
committed too, on PostgreSQL as on SQLite (where writers are serialised anyway). Only the last
moment of a writing transaction is serialised: the timelines are rebuilt before the lock is taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from sqlalchemy import Connection, Table, select, update
from sqlmodel import Session, col

from registry.db import dialect_insert
from registry.providers.models import ProviderIdentifier
from registry.timeutil import utcnow
from registry.trust.models import FederationSubordinateEvent, TrustFeedCounter, TrustListEntry, TrustTimeline
from registry.trust.subordinate_events import events_for
from registry.trust.timeline import change_days
from registry.trust.verdict import Policy, Scope, evaluate
from registry.vocabulary import RESOLVING_ORIGINS

_ENTRIES: Table = TrustListEntry.__table__  # type: ignore[attr-defined]
_COUNTER: Table = TrustFeedCounter.__table__  # type: ignore[attr-defined]
_EVENTS: Table = FederationSubordinateEvent.__table__  # type: ignore[attr-defined]
_ENCODE = msgspec.json.Encoder(order="deterministic").encode
_IDENTIFIERS: Table = ProviderIdentifier.__table__  # type: ignore[attr-defined]
_IDENTIFIER_FIELDS = ("scheme", "value", "normalised", "valid_from", "valid_to")


def status_intervals(document: dict[str, Any], policy: Policy) -> list[dict[str, Any]]:
    """The unscoped verdict as consecutive intervals: from (included) to (excluded, None = open).

    A reading aid: verdicts for a scope, or exactly as the registry gives them, come from evaluating
    the timeline itself (registry/trust/verdict.py).
    """
    days = sorted(change_days(document))
    intervals: list[dict[str, Any]] = []
    for day in days:
        outcome = evaluate(document, day, Scope(), policy)
        basis = [entry["result_id"] for entry in outcome.basis]
        if intervals and intervals[-1]["status"] == outcome.status and intervals[-1]["results"] == basis:
            continue
        if intervals:
            intervals[-1]["to"] = day.isoformat()
        intervals.append({"from": day.isoformat(), "to": None, "status": outcome.status, "results": basis})
    return intervals


def build_entries(session: Session, provider_ids: Iterable[int], policy: Policy) -> dict[int, str | None]:
    """Each provider's trust list entry as canonical JSON, or None when it is not on the list."""
    ids = sorted(set(provider_ids))
    documents: dict[int, dict[str, Any]] = {}
    identifiers: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(ids):
        for provider_id, document in session.execute(
            select(col(TrustTimeline.provider_id), col(TrustTimeline.document)).where(
                col(TrustTimeline.provider_id).in_(chunk)
            )
        ):
            documents[provider_id] = document
        # Columns, not ORM objects: a commit of an import batch lists a thousand providers or more.
        rows = session.execute(
            select(_IDENTIFIERS.c.provider_id, *(_IDENTIFIERS.c[name] for name in _IDENTIFIER_FIELDS))
            .where(_IDENTIFIERS.c.provider_id.in_(chunk), _IDENTIFIERS.c.origin.in_(RESOLVING_ORIGINS))
            .order_by(_IDENTIFIERS.c.scheme, _IDENTIFIERS.c.normalised, _IDENTIFIERS.c.id)
        )
        for row in rows:
            identifiers.setdefault(row.provider_id, []).append(
                identifier_entry(row.scheme, row.value, row.normalised, row.valid_from, row.valid_to)
            )
    return {
        provider_id: encode_entry(provider_id, documents.get(provider_id), identifiers.get(provider_id), policy)
        for provider_id in ids
    }


def identifier_entry(
    scheme: str, value: str, normalised: str, valid_from: dt.date | None, valid_to: dt.date | None
) -> dict[str, Any]:
    """One resolving identifier as a trust list entry lists it (entries list them by scheme, normalised, id)."""
    return {
        "scheme": scheme,
        "value": value,
        "normalised": normalised,
        "valid_from": _iso(valid_from),
        "valid_to": _iso(valid_to),
    }


def encode_entry(
    provider_id: int, document: dict[str, Any] | None, identifiers: list[dict[str, Any]] | None, policy: Policy
) -> str | None:
    """A provider's trust list entry as canonical JSON, or None when it is off the list; bulk loaders call it too."""
    if document is None or not identifiers:
        return None
    provider = document["provider"]
    entry = {
        "provider_id": provider_id,
        "name": provider["name"],
        "country": provider["country"],
        "type": provider["type"],
        "identifiers": identifiers,
        "status_intervals": status_intervals(document, policy),
        "timeline": document,
    }
    return _ENCODE(entry).decode()


def record(session: Session, provider_ids: Iterable[int], policy: Policy) -> int:
    """Give the next feed positions to the providers whose entries this transaction changed.

    The OpenID Federation subordinate events the changes make are written with them, at their positions.

    Call as the last thing before commit: the counter's row lock is held until then. Works a chunk of
    providers at a time (positions still follow provider id order), so a large import does not hold
    every entry in memory at once.
    """
    recorded = 0
    for chunk in _chunks(sorted(set(provider_ids)), 100):
        recorded += _record_chunk(session, chunk, policy)
    return recorded


def _record_chunk(session: Session, provider_ids: list[int], policy: Policy) -> int:
    built = build_entries(session, provider_ids, policy)
    if not built:
        return 0
    stored: dict[int, str | None] = {}
    found = session.execute(
        select(_ENTRIES.c.provider_id, _ENTRIES.c.entry).where(_ENTRIES.c.provider_id.in_(sorted(built)))
    )
    stored.update({provider_id: entry for provider_id, entry in found})
    # A provider that was never on the list needs no "removed".
    changed = [
        pid
        for pid, entry in built.items()
        if (pid in stored and stored[pid] != entry) or (pid not in stored and entry is not None)
    ]
    if not changed:
        return 0
    last = int(
        session.execute(
            update(_COUNTER)
            .where(_COUNTER.c.id == 1)
            .values(position=_COUNTER.c.position + len(changed))
            .returning(_COUNTER.c.position)
        ).scalar_one()
    )
    now = utcnow()
    rows = [
        {"provider_id": pid, "position": last - len(changed) + index + 1, "entry": built[pid], "changed_at": now}
        for index, pid in enumerate(sorted(changed))
    ]
    statement = dialect_insert(session, _ENTRIES)
    statement = statement.on_conflict_do_update(
        index_elements=["provider_id"],
        set_={
            "position": statement.excluded.position,
            "entry": statement.excluded.entry,
            "changed_at": statement.excluded.changed_at,
        },
    )
    session.execute(statement, rows)
    events = [
        {
            "position": last - len(changed) + index + 1,
            "ordinal": ordinal,
            "sub": sub,
            "event": kind,
            "description": description,
            "provider_id": pid,
            "occurred_at": now,
        }
        for index, pid in enumerate(sorted(changed))
        for ordinal, (sub, kind, description) in enumerate(events_for(stored.get(pid), built[pid], now.date()))
    ]
    if events:
        session.execute(_EVENTS.insert(), events)
    return len(changed)


def current_position(bind: Connection | Session) -> int:
    return int(bind.execute(select(_COUNTER.c.position).where(_COUNTER.c.id == 1)).scalar_one())


def changed_at(bind: Connection | Session, position: int) -> dt.datetime | None:
    """When the change at this position committed (None for position 0)."""
    return bind.execute(select(_ENTRIES.c.changed_at).where(_ENTRIES.c.position == position)).scalar()


def changes_after(bind: Connection | Session, after: int, limit: int) -> list[tuple[int, int, str | None, dt.datetime]]:
    """(position, provider id, entry or None, changed at) after a position, in position order."""
    return list(
        bind.execute(
            select(_ENTRIES.c.position, _ENTRIES.c.provider_id, _ENTRIES.c.entry, _ENTRIES.c.changed_at)
            .where(_ENTRIES.c.position > after)
            .order_by(_ENTRIES.c.position)
            .limit(limit)
        ).all()
    )


def listed_entries(bind: Connection | Session, page: int = 1000) -> Iterator[str]:
    """Every entry on the list in provider order, read in keyset pages (never the whole list at once)."""
    last = -1
    while True:
        rows = list(
            bind.execute(
                select(_ENTRIES.c.provider_id, _ENTRIES.c.entry)
                .where(_ENTRIES.c.provider_id > last, _ENTRIES.c.entry.is_not(None))
                .order_by(_ENTRIES.c.provider_id)
                .limit(page)
            ).all()
        )
        for _provider_id, entry in rows:
            yield entry or ""
        if len(rows) < page:
            return
        last = rows[-1][0]


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
