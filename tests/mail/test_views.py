"""Operators read the outbox, see failing deliveries and bring a retry forward."""

from __future__ import annotations

import datetime as dt

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.audit.models import AuditEvent
from registry.mail.models import OutboxMessage
from tests.conftest import post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


def _message(
    session: Session,
    *,
    attempts: int = 0,
    last_error: str | None = None,
    next_attempt_at: dt.datetime | None = None,
    status: str = "queued",
    sent_at: dt.datetime | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        to="editor@aaa.example",
        subject="Result ends in 30 days",
        text="Body text",
        attempts=attempts,
        last_error=last_error,
        status=status,
        sent_at=sent_at,
    )
    if next_attempt_at is not None:
        message.next_attempt_at = next_attempt_at
    session.add(message)
    session.commit()
    return message


class TestOutboxPages:
    def test_operators_read_queued_and_failing_messages(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        failing = _message(session, attempts=3, last_error="Connection refused", next_attempt_at=later)
        sign_in(client, world.emails["operator"])
        page = client.get("/staff/outbox/", headers=HTML)
        assert page.status_code == 200
        assert "Failing deliveries" in page.text and "Connection refused" in page.text
        assert "No SMTP server is configured" in page.text
        detail = client.get(f"/staff/outbox/{failing.id}", headers=HTML)
        assert detail.status_code == 200 and "Body text" in detail.text

    def test_retry_brings_the_next_attempt_forward_and_is_audited(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        failing = _message(session, attempts=3, last_error="Connection refused", next_attempt_at=later)
        sign_in(client, world.emails["operator"])
        response = post_form(client, f"/staff/outbox/{failing.id}/retry", {})
        assert response.status_code == 303
        session.expire_all()
        refreshed = session.get(OutboxMessage, failing.id)
        assert refreshed is not None and refreshed.next_attempt_at <= dt.datetime.now(dt.UTC)
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "outbox.retry")).one()

    def test_a_sent_message_cannot_be_retried(self, session: Session, client: TestClient, world: World) -> None:
        sent = _message(session, status="sent", sent_at=dt.datetime.now(dt.UTC))
        sign_in(client, world.emails["operator"])
        response = post_form(client, f"/staff/outbox/{sent.id}/retry", {}, headers=HTML)
        assert response.status_code == 400

    def test_only_operators_read_the_outbox(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        assert client.get("/staff/outbox/", headers=HTML).status_code == 403
