from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import Session, col, select

from registry.mail.delivery import deliver_due, retry_delay
from registry.mail.models import OutboxMessage
from registry.mail.services import Mail, enqueue
from registry.settings import Settings
from registry.timeutil import utcnow
from tests.conftest import SmtpSink


def _queue(session: Session, *recipients: str) -> None:
    mail = Mail(subject="Deadline ahead", text="Plain words.", html="<p>Rich <strong>words</strong>.</p>")
    enqueue(session, [(to, mail) for to in recipients])
    session.flush()


def _with_smtp(settings: Settings, sink: SmtpSink) -> Settings:
    return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_from="registry@test.example")


def _outbox(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


class TestDelivery:
    def test_without_an_smtp_host_messages_stay_in_the_outbox(self, session: Session, settings: Settings) -> None:
        _queue(session, "a@test.example")
        report = deliver_due(session, settings)
        assert (report.sent, report.failed, report.waiting) == (0, 0, 1)
        assert [m.status for m in _outbox(session)] == ["queued"]

    def test_messages_reach_the_smtp_server_as_text_and_html(
        self, session: Session, settings: Settings, smtp_sink: SmtpSink
    ) -> None:
        smtp_sink.start()
        _queue(session, "a@test.example", "b@test.example")
        report = deliver_due(session, _with_smtp(settings, smtp_sink))
        assert (report.sent, report.failed, report.waiting) == (2, 0, 0)
        assert sorted(smtp_sink.recipients) == ["a@test.example", "b@test.example"]
        received = smtp_sink.messages[0]
        assert received["Subject"] == "Deadline ahead"
        assert received["From"] == "registry@test.example"
        assert received.get_body(("plain",)).get_content().strip() == "Plain words."  # type: ignore[union-attr]
        assert "<strong>words</strong>" in received.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert all(m.status == "sent" and m.sent_at is not None and m.attempts == 1 for m in _outbox(session))
        assert deliver_due(session, _with_smtp(settings, smtp_sink)).sent == 0

    def test_a_down_server_leaves_the_message_queued_with_its_error_until_a_retry_succeeds(
        self, session: Session, settings: Settings, smtp_sink: SmtpSink
    ) -> None:
        configured = _with_smtp(settings, smtp_sink)
        _queue(session, "a@test.example")
        now = utcnow()
        report = deliver_due(session, configured, now=now)
        assert (report.sent, report.failed, report.waiting) == (0, 1, 1)
        [message] = _outbox(session)
        assert message.status == "queued"
        assert message.attempts == 1
        assert "cannot reach SMTP server" in (message.last_error or "")
        assert abs(message.next_attempt_at - (now + dt.timedelta(minutes=1))) < dt.timedelta(seconds=1)

        # A second failure backs off twice as long.
        later = now + dt.timedelta(minutes=1, seconds=1)
        deliver_due(session, configured, now=later)
        [message] = _outbox(session)
        assert message.attempts == 2
        assert abs(message.next_attempt_at - (later + dt.timedelta(minutes=2))) < dt.timedelta(seconds=1)

        smtp_sink.start()
        assert deliver_due(session, configured, now=later).sent == 0  # not due yet: back-off is respected
        assert deliver_due(session, configured, now=later + dt.timedelta(minutes=2, seconds=1)).sent == 1
        [message] = _outbox(session)
        assert (message.status, message.attempts, message.last_error) == ("sent", 3, None)
        assert smtp_sink.recipients == ["a@test.example"]

    def test_back_off_doubles_up_to_six_hours(self) -> None:
        assert [retry_delay(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
        assert retry_delay(30) == dt.timedelta(hours=6)
