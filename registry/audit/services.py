"""Every write leaves an audit event: who, when, what, before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from registry.audit.models import AuditEvent


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


def history(session: Session, entity_type: str, entity_id: int, limit: int = 100) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
            .limit(limit)
        )
    )
