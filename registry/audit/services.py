"""Every write leaves an audit event: who, when, what, before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from registry.audit.models import AuditEvent
from registry.errors import FieldErrors
from registry.timeutil import utcnow


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a signed-in user, or a named process (cli, demo, scheduler)."""

    label: str
    user_id: int | None = None


SYSTEM = Actor("system")


def snapshot(record: SQLModel | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {key: _plain(value) for key, value in record.model_dump().items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    entity: SQLModel,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=type(entity).__tablename__,  # type: ignore[arg-type]
        entity_id=getattr(entity, "id", None),
        before=before,
        after=after if after is not None else snapshot(entity),
    )
    session.add(event)
    return event


def mark_in_error(
    session: Session, record: SQLModel, *, reason: str, actor: Actor, event: str, mark: str, already: str
) -> None:
    """A record entered in error gets `<mark>_at` and `<mark>_reason`: kept, never deleted, and audited.

    The reason is required; marking twice is refused next to the reason with the words `already`.
    """
    errors = FieldErrors()
    text = errors.text("reason", reason, max_length=2000)
    if getattr(record, f"{mark}_at") is not None:
        errors.add("reason", already)
    errors.raise_if_any()
    before = snapshot(record)
    setattr(record, f"{mark}_at", utcnow())
    setattr(record, f"{mark}_reason", text)
    session.add(record)
    record_event(session, actor, event, record, before=before)


def history(session: Session, entity_type: str, entity_id: int, limit: int = 100) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class EventFilter:
    """What the audit log is narrowed to; conditions on other domains' records come in as `about`."""

    user_id: int | None = None
    actor_label: str | None = None
    action_prefix: str | None = None
    about: Any = None
    since: dt.date | None = None
    until: dt.date | None = None


def search_events(session: Session, wanted: EventFilter, offset: int, limit: int) -> tuple[list[AuditEvent], int]:
    """Audit events matching the filter, newest first, with their total count."""
    query = select(AuditEvent)
    if wanted.user_id is not None:
        query = query.where(AuditEvent.actor_user_id == wanted.user_id)
    if wanted.actor_label:
        query = query.where(col(AuditEvent.actor_user_id).is_(None), AuditEvent.actor_label == wanted.actor_label)
    if wanted.action_prefix:
        query = query.where(col(AuditEvent.action).startswith(wanted.action_prefix, autoescape=True))
    if wanted.about is not None:
        query = query.where(wanted.about)
    if wanted.since is not None:
        query = query.where(AuditEvent.at >= dt.datetime.combine(wanted.since, dt.time(), dt.UTC))
    if wanted.until is not None:
        until = dt.datetime.combine(wanted.until + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(AuditEvent.at < until)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).offset(offset).limit(limit)
    )
    return list(rows), int(total)


def process_labels(session: Session) -> list[str]:
    """Names of the processes (not people) that have written: cli, demo, scheduler."""
    rows = session.exec(select(AuditEvent.actor_label).where(col(AuditEvent.actor_user_id).is_(None)).distinct())
    return sorted(set(rows))


def action_kinds(session: Session) -> list[str]:
    """The kinds of record events were written about, e.g. "provider", "result"."""
    rows = session.exec(select(AuditEvent.action).distinct())
    return sorted({action.split(".", 1)[0] for action in rows})
