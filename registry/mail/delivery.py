"""Delivering the outbox over SMTP, with retries and exponential back-off.

A message leaves the queue only when the SMTP server has accepted it; a failure stays queued with
its error and is retried later, so nothing is lost. On PostgreSQL the batch is locked with SKIP
LOCKED, so two deliverers never take the same message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy import func, select
from sqlmodel import Session, col

from registry.mail.models import OutboxMessage
from registry.settings import Settings
from registry.timeutil import utcnow

RETRY_BASE = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=6)
BATCH = 100


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    waiting: int


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 ... minutes after each failed attempt, at most 6 hours: retried for as long as it takes."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_MAX)


def deliver_due(
    session: Session, settings: Settings, now: dt.datetime | None = None, batch: int = BATCH
) -> DeliveryReport:
    """Send the messages that are due; without an SMTP host they wait in the outbox."""
    now = now or utcnow()
    if not settings.smtp_host:
        return DeliveryReport(0, 0, _waiting(session))
    due = list(
        session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.status) == "queued", col(OutboxMessage.next_attempt_at) <= now)
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not due:
        return DeliveryReport(0, 0, _waiting(session))
    errors = asyncio.run(_send(due, settings))
    sent = failed = 0
    for message, error in zip(due, errors, strict=True):
        message.attempts += 1
        if error is None:
            message.status = "sent"
            message.sent_at = utcnow()
            message.last_error = None
            sent += 1
        else:
            message.last_error = error[:2000]
            message.next_attempt_at = now + retry_delay(message.attempts)
            failed += 1
        session.add(message)
    session.flush()
    return DeliveryReport(sent, failed, _waiting(session))


def _waiting(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.status) == "queued")
        ).scalar_one()
    )


def _email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.smtp_from
    email["To"] = message.to
    email["Subject"] = message.subject
    # A stable id lets a receiving system spot a message re-sent after a crash mid-batch.
    email["Message-ID"] = f"<outbox-{message.id}@{urlsplit(settings.base_url).hostname or 'registry'}>"
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


async def _send(messages: list[OutboxMessage], settings: Settings) -> list[str | None]:
    smtp = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, timeout=30)
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError) as error:
        reason = f"cannot reach SMTP server {settings.smtp_host}:{settings.smtp_port}: {error}"
        return [reason] * len(messages)
    outcomes: list[str | None] = []
    try:
        for message in messages:
            try:
                await smtp.send_message(_email(message, settings))
                outcomes.append(None)
            except (aiosmtplib.SMTPException, OSError) as error:
                outcomes.append(f"{type(error).__name__}: {error}")
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except aiosmtplib.SMTPException:
                smtp.close()
    return outcomes
