from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class OutboxMessage(SQLModel, table=True):
    """An e-mail written in the transaction that caused it; the deliverer sends it later."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    to: str
    subject: str
    text: str
    html: str | None = None
    # queued until the SMTP server accepts it, then sent; a failure stays queued with its error.
    status: str = Field(default="queued", index=True)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, index=True)
    last_error: str | None = None
    sent_at: dt.datetime | None = None
    # What caused it, e.g. "reminder:42", for tracing a message back to its deadline.
    cause: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
