"""Delivering the outbox over SMTP, with retries and exponential back-off.

A run sends until nothing is due or its time is up, at most the configured number of messages a
minute. It claims a small batch at a time by leasing it (moving its next attempt past the lease,
in a short transaction; SKIP LOCKED on PostgreSQL), so two deliverers never take the same message,
and it records each message as sent in a transaction of its own as soon as the SMTP server has
accepted it: a deliverer killed mid-batch re-sends nothing it had already handed over, and what it
had leased but not sent goes out once the lease ends. A failure stays queued with its error and is
retried later, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy import func, select, update
from sqlmodel import Session, col

from registry.db import UnitsOfWork
from registry.mail.models import OutboxMessage
from registry.settings import Settings
from registry.timeutil import utcnow

RETRY_BASE = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=6)
BATCH = 100
# How long a claimed batch is kept from other deliverers; a batch takes at most a minute to send.
LEASE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    waiting: int


@dataclass(frozen=True)
class _Claimed:
    id: int
    to: str
    subject: str
    text: str
    html: str | None
    attempts: int


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 ... minutes after each failed attempt, at most 6 hours: retried for as long as it takes."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_MAX)


def deliver_due(
    db: UnitsOfWork, settings: Settings, now: dt.datetime | None = None, batch: int = BATCH
) -> DeliveryReport:
    """Send the messages that are due; without an SMTP host they wait in the outbox.

    `now` fixes the clock for the due times (tests); otherwise each batch reads the time afresh.
    """
    if settings.smtp_host:
        sent, failed = asyncio.run(_deliver(db, settings, now, batch))
    else:
        sent = failed = 0
    with db.read() as session:
        return DeliveryReport(sent, failed, _waiting(session))


async def _deliver(db: UnitsOfWork, settings: Settings, now: dt.datetime | None, batch: int) -> tuple[int, int]:
    ends = time.monotonic() + settings.mail_delivery_seconds
    pace = _Pace(settings.mail_rate_per_minute)
    if settings.mail_rate_per_minute > 0:
        batch = min(batch, settings.mail_rate_per_minute)
    sent = failed = 0
    smtp: aiosmtplib.SMTP | None = None
    try:
        while time.monotonic() < ends:
            moment = now or utcnow()
            claimed = _claim(db, moment, batch)
            if not claimed:
                break
            if smtp is None or not smtp.is_connected:
                smtp, unreachable = await _connect(settings)
                if unreachable:
                    failed += _fail(db, claimed, unreachable, moment)
                    break
            for index, message in enumerate(claimed):
                if pace.next_send() >= ends:
                    _release(db, claimed[index:], moment)
                    break
                await pace.wait()
                try:
                    await smtp.send_message(_email(message, settings))
                except (aiosmtplib.SMTPException, OSError) as error:
                    failed += _fail(db, [message], f"{type(error).__name__}: {error}", moment)
                    if not smtp.is_connected:
                        # The connection is gone: the rest of the batch waits for the next round.
                        _release(db, claimed[index + 1 :], moment)
                        break
                else:
                    _mark_sent(db, message)
                    sent += 1
    finally:
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except aiosmtplib.SMTPException:
                smtp.close()
    return sent, failed


class _Pace:
    """At most `per_minute` sends a minute, evenly spaced (0: as fast as the server takes them)."""

    def __init__(self, per_minute: int) -> None:
        self._gap = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = time.monotonic()

    def next_send(self) -> float:
        """The monotonic time the next message may go."""
        return max(self._next, time.monotonic())

    async def wait(self) -> None:
        delay = self._next - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next = max(self._next, time.monotonic() - self._gap) + self._gap


def _claim(db: UnitsOfWork, now: dt.datetime, batch: int) -> list[_Claimed]:
    with db.write() as session:
        due = list(
            session.scalars(
                select(OutboxMessage)
                .where(col(OutboxMessage.status) == "queued", col(OutboxMessage.next_attempt_at) <= now)
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        for message in due:
            message.next_attempt_at = now + LEASE
            session.add(message)
        return [_Claimed(m.id or 0, m.to, m.subject, m.text, m.html, m.attempts) for m in due]


def _mark_sent(db: UnitsOfWork, message: _Claimed) -> None:
    with db.write() as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message.id)
            .values(status="sent", sent_at=utcnow(), last_error=None, attempts=OutboxMessage.attempts + 1)
        )


def _fail(db: UnitsOfWork, messages: list[_Claimed], error: str, now: dt.datetime) -> int:
    with db.write() as session:
        for message in messages:
            attempts = message.attempts + 1
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message.id)
                .values(attempts=attempts, last_error=error[:2000], next_attempt_at=now + retry_delay(attempts))
            )
    return len(messages)


def _release(db: UnitsOfWork, messages: list[_Claimed], now: dt.datetime) -> None:
    """Give back what was claimed but not tried: due again at once, no attempt counted."""
    if not messages:
        return
    with db.write() as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([message.id for message in messages]))
            .values(next_attempt_at=now)
        )


def _waiting(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.status) == "queued")
        ).scalar_one()
    )


def _email(message: _Claimed, settings: Settings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.to
    mail["Subject"] = message.subject
    # RFC 5322 requires the origination date: the moment the message is handed to the server.
    mail["Date"] = email.utils.format_datetime(utcnow())
    # A stable id lets a receiving system spot a message re-sent after a crash mid-send.
    mail["Message-ID"] = f"<outbox-{message.id}@{urlsplit(settings.base_url).hostname or 'registry'}>"
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


async def _connect(settings: Settings) -> tuple[aiosmtplib.SMTP, str | None]:
    smtp = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, timeout=30)
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError) as error:
        return smtp, f"cannot reach SMTP server {settings.smtp_host}:{settings.smtp_port}: {error}"
    return smtp, None
