"""Writing e-mail into the outbox, in the caller's transaction, from Jinja2 templates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from registry.audit.services import Actor, record_event
from registry.errors import NotFound, ValidationFailed
from registry.mail.models import OutboxMessage
from registry.settings import PROJECT_ROOT
from registry.timeutil import utcnow


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str | None
    cause: str | None = None


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(PROJECT_ROOT / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        # Templates ship with the code: no need to check the files on every message.
        auto_reload=False,
        keep_trailing_newline=True,
    )


def render(template: str, subject: str, context: dict[str, Any], cause: str | None = None) -> Mail:
    """Render `<template>.txt` and `<template>.html` into one message."""
    environment = _environment()
    return Mail(
        subject=subject,
        text=environment.get_template(f"{template}.txt").render(context),
        html=environment.get_template(f"{template}.html").render(context),
        cause=cause,
    )


def enqueue(session: Session, deliveries: Iterable[tuple[str, Mail]]) -> int:
    """Queue (recipient, mail) pairs in one multi-row insert."""
    now = utcnow()
    rows = [
        {
            "to": to,
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "cause": mail.cause,
            "created_at": now,
        }
        for to, mail in deliveries
    ]
    if rows:
        session.execute(insert(OutboxMessage), rows)
    return len(rows)


def outbox_counts(session: Session) -> dict[str, int]:
    """Messages per status: queued (including failed attempts waiting for a retry) and sent."""
    rows = session.execute(select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))).all()
    return {status: count for status, count in rows}


def failing(session: Session, limit: int = 20) -> list[OutboxMessage]:
    """Queued messages whose last attempt failed, longest-failing first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.status) == "queued", col(OutboxMessage.last_error).is_not(None))
            .order_by(col(OutboxMessage.attempts).desc(), col(OutboxMessage.id))
            .limit(limit)
        )
    )


def recent(session: Session, limit: int = 50, offset: int = 0) -> list[OutboxMessage]:
    """The outbox, newest first, as operators read it."""
    return list(
        session.scalars(select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).offset(offset).limit(limit))
    )


def retry_now(session: Session, message_id: int, actor: Actor) -> OutboxMessage:
    """Bring a queued message's next attempt forward to now; a sent one stays sent."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"There is no outbox message with id {message_id}.")
    if message.status != "queued":
        raise ValidationFailed({"message": "this message has been sent already"})
    before = {"next_attempt_at": message.next_attempt_at.isoformat(), "last_error": message.last_error}
    message.next_attempt_at = utcnow()
    session.add(message)
    # The body is not copied into the audit trail: the message row keeps it.
    record_event(
        session,
        actor,
        "outbox.retry",
        message,
        before=before,
        after={"next_attempt_at": message.next_attempt_at.isoformat(), "last_error": message.last_error},
    )
    return message
