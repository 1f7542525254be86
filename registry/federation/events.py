"""The Federation Subordinate Events endpoint (OpenID Federation Subordinate Events Endpoint 1.0, draft 00).

The events are written by the change feed (registry/trust/subordinate_events.py) and read here in
feed order. The draft asks for one subordinate's history (`sub`); this registry also pages it with
a cursor, and without `sub` answers every subordinate's events (each event names its `sub`), so a
federation consumer can follow the whole federation the way a mirror follows the change feed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Connection, Table, and_, exists, or_, select

from registry.federation.services import MAX_SUB_LENGTH, FederationError
from registry.settings import Settings
from registry.trust import feed
from registry.trust.models import FederationSubordinateEvent

EVENTS_STATEMENT_TYPE = "entity-events-statement+jwt"
MAX_EVENTS = 1000
_EVENTS: Table = FederationSubordinateEvent.__table__  # type: ignore[attr-defined]
_CURSOR = re.compile(r"([0-9]{1,19})-([0-9]{1,9})")
START = (0, -1)
MAX_POSITION = 2**62


def parse_cursor(value: str | None) -> tuple[int, int]:
    """(feed position, ordinal) of the last event already seen; the start without a cursor."""
    if value is None:
        return START
    match = _CURSOR.fullmatch(value)
    if match is None or int(match[1]) > MAX_POSITION:
        raise FederationError(400, "invalid_request", "after is a cursor this endpoint gave out, such as 12-0")
    return int(match[1]), int(match[2])


def format_cursor(cursor: tuple[int, int]) -> str | None:
    return None if cursor == START else f"{cursor[0]}-{cursor[1]}"


def check_sub(sub: str | None) -> str | None:
    if sub is None:
        return None
    if not sub.strip() or len(sub) > MAX_SUB_LENGTH:
        raise FederationError(
            400, "invalid_request", f"sub is an entity identifier of 1 to {MAX_SUB_LENGTH} characters"
        )
    return sub


def read_events(connection: Connection, sub: str | None, after: tuple[int, int], limit: int) -> tuple[list[Any], bool]:
    """Up to limit events after the cursor in feed order, and whether more follow."""
    if after[0] > feed.current_position(connection):
        raise FederationError(400, "invalid_request", "after is beyond the newest event; it was not given out here")
    columns = _EVENTS.c
    statement = select(
        columns.position, columns.ordinal, columns.sub, columns.event, columns.description, columns.occurred_at
    ).where(
        or_(columns.position > after[0], and_(columns.position == after[0], columns.ordinal > after[1])),
    )
    if sub is not None:
        if not connection.execute(select(exists().where(columns.sub == sub))).scalar():
            raise FederationError(404, "not_found", f"{sub} has never been a subordinate of this registry")
        statement = statement.where(columns.sub == sub)
    rows = list(connection.execute(statement.order_by(columns.position, columns.ordinal).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def claims(
    settings: Settings, sub: str | None, after: tuple[int, int], rows: list[Any], more: bool, now: dt.datetime
) -> dict[str, Any]:
    events = [
        {
            "iat": int(occurred_at.timestamp()),
            "event": event,
            "event_description": description,
            "sub": event_sub,
            "cursor": f"{position}-{ordinal}",
        }
        for position, ordinal, event_sub, event, description, occurred_at in rows
    ]
    last = (rows[-1][0], rows[-1][1]) if rows else after
    body: dict[str, Any] = {
        "iss": settings.base_url,
        "sub": sub if sub is not None else settings.base_url,
        "iat": int(now.timestamp()),
        "federation_registration_events": events,
        "more": more,
    }
    cursor = format_cursor(last)
    if cursor is not None:
        body["next_cursor"] = cursor
    return body
