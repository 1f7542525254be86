"""Writing e-mail into the outbox, in the caller's transaction, from Jinja2 templates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import insert
from sqlmodel import Session

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
