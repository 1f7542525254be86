from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry import migrations
from registry.db import create_db_engine, session_scope
from registry.mail.delivery import LEASE, DeliveryReport, deliver_due, retry_delay
from registry.mail.models import OutboxMessage
from registry.mail.services import Mail, enqueue
from registry.settings import Settings
from registry.timeutil import utcnow
from registry.web import Database
from tests.conftest import SmtpSink, free_port
from tests.test_cli import REGISTRY


def _queue(session: Session, *recipients: str) -> None:
    mail = Mail(subject="Deadline ahead", text="Plain words.", html="<p>Rich <strong>words</strong>.</p>")
    enqueue(session, [(to, mail) for to in recipients])
    session.flush()


def _with_smtp(settings: Settings, sink: SmtpSink) -> Settings:
    return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_from="registry@test.example")


def _deliver(session: Session, settings: Settings, **options: Any) -> DeliveryReport:
    """Deliver in units of work of their own on the test's connection, as the scheduler does on an engine."""
    report = deliver_due(Database(session.connection()), settings, **options)
    session.expire_all()
    return report


def _outbox(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


class TestDelivery:
    def test_without_an_smtp_host_messages_stay_in_the_outbox(self, session: Session, settings: Settings) -> None:
        _queue(session, "a@test.example")
        report = _deliver(session, settings)
        assert (report.sent, report.failed, report.waiting) == (0, 0, 1)
        assert [m.status for m in _outbox(session)] == ["queued"]

    def test_messages_reach_the_smtp_server_as_text_and_html(
        self, session: Session, settings: Settings, smtp_sink: SmtpSink
    ) -> None:
        smtp_sink.start()
        _queue(session, "a@test.example", "b@test.example")
        report = _deliver(session, _with_smtp(settings, smtp_sink))
        assert (report.sent, report.failed, report.waiting) == (2, 0, 0)
        assert sorted(smtp_sink.recipients) == ["a@test.example", "b@test.example"]
        received = smtp_sink.messages[0]
        assert received["Subject"] == "Deadline ahead"
        assert received["From"] == "registry@test.example"
        assert received.get_body(("plain",)).get_content().strip() == "Plain words."  # type: ignore[union-attr]
        assert "<strong>words</strong>" in received.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert all(m.status == "sent" and m.sent_at is not None and m.attempts == 1 for m in _outbox(session))
        assert _deliver(session, _with_smtp(settings, smtp_sink)).sent == 0

    def test_a_down_server_leaves_the_message_queued_with_its_error_until_a_retry_succeeds(
        self, session: Session, settings: Settings, smtp_sink: SmtpSink
    ) -> None:
        configured = _with_smtp(settings, smtp_sink)
        _queue(session, "a@test.example")
        now = utcnow()
        report = _deliver(session, configured, now=now)
        assert (report.sent, report.failed, report.waiting) == (0, 1, 1)
        [message] = _outbox(session)
        assert message.status == "queued"
        assert message.attempts == 1
        assert "cannot reach SMTP server" in (message.last_error or "")
        assert abs(message.next_attempt_at - (now + dt.timedelta(minutes=1))) < dt.timedelta(seconds=1)

        # A second failure backs off twice as long.
        later = now + dt.timedelta(minutes=1, seconds=1)
        _deliver(session, configured, now=later)
        [message] = _outbox(session)
        assert message.attempts == 2
        assert abs(message.next_attempt_at - (later + dt.timedelta(minutes=2))) < dt.timedelta(seconds=1)

        smtp_sink.start()
        assert _deliver(session, configured, now=later).sent == 0  # not due yet: back-off is respected
        assert _deliver(session, configured, now=later + dt.timedelta(minutes=2, seconds=1)).sent == 1
        [message] = _outbox(session)
        assert (message.status, message.attempts, message.last_error) == ("sent", 3, None)
        assert smtp_sink.recipients == ["a@test.example"]

    def test_back_off_doubles_up_to_six_hours(self) -> None:
        assert [retry_delay(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
        assert retry_delay(30) == dt.timedelta(hours=6)

    def test_every_message_carries_a_date_and_a_message_id(
        self, session: Session, settings: Settings, smtp_sink: SmtpSink
    ) -> None:
        smtp_sink.start()
        _queue(session, "a@test.example")
        before = dt.datetime.now(dt.UTC).replace(microsecond=0)
        assert _deliver(session, _with_smtp(settings, smtp_sink)).sent == 1
        [received] = smtp_sink.messages
        dated = email.utils.parsedate_to_datetime(str(received["Date"]))
        assert before <= dated <= dt.datetime.now(dt.UTC)
        assert str(received["Message-ID"]).startswith("<outbox-") and str(received["Message-ID"]).endswith(
            "@registry.test>"
        )


class TimedSink(SmtpSink):
    """Notes when each message arrives."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.arrivals.append(time.monotonic())
        return await super().handle_DATA(server, session, envelope)


class KillingSink(SmtpSink):
    """Kills the deliverer process while its fifth message is on the wire, before accepting it."""

    deliverer: subprocess.Popen[str] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if len(self.messages) == 4 and self.deliverer is not None:
            os.kill(self.deliverer.pid, signal.SIGKILL)
            self.deliverer.wait(timeout=10)
            self.deliverer = None
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def timed_sink() -> Iterator[TimedSink]:
    sink = TimedSink(free_port())
    yield sink
    sink.stop()


@pytest.fixture
def killing_sink() -> Iterator[KillingSink]:
    sink = KillingSink(free_port())
    yield sink
    sink.stop()


class TestThroughput:
    def test_one_run_empties_a_queue_larger_than_a_batch(
        self, session: Session, settings: Settings, smtp_sink: SmtpSink
    ) -> None:
        smtp_sink.start()
        _queue(session, *(f"r{n}@test.example" for n in range(250)))
        configured = dataclasses.replace(_with_smtp(settings, smtp_sink), mail_rate_per_minute=0)
        report = _deliver(session, configured)
        assert (report.sent, report.failed, report.waiting) == (250, 0, 0)
        assert len(smtp_sink.messages) == 250

    def test_the_rate_limit_spaces_messages_and_the_time_budget_ends_the_run(
        self, session: Session, settings: Settings, timed_sink: TimedSink
    ) -> None:
        smtp_sink = timed_sink
        arrivals = smtp_sink.arrivals
        smtp_sink.start()
        _queue(session, *(f"r{n}@test.example" for n in range(20)))
        # 120 a minute is one every half second; the run may take 1.2 s, so it sends 3 and stops.
        configured = dataclasses.replace(
            _with_smtp(settings, smtp_sink), mail_rate_per_minute=120, mail_delivery_seconds=1.2
        )
        report = _deliver(session, configured)
        assert (report.sent, report.failed, report.waiting) == (3, 0, 17)
        gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
        assert len(gaps) == 2 and all(gap >= 0.45 for gap in gaps), gaps
        # What the run did not reach is due at once for the next run, with no attempt counted.
        waiting = [m for m in _outbox(session) if m.status == "queued"]
        assert all(m.attempts == 0 and m.next_attempt_at <= utcnow() for m in waiting)


class TestKilledMidBatch:
    def test_a_deliverer_killed_mid_batch_sends_nothing_twice(self, tmp_path: Path, killing_sink: KillingSink) -> None:
        smtp_sink = killing_sink
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
        migrations.upgrade(url)
        engine = create_db_engine(url)
        mail = Mail(subject="Deadline ahead", text="Plain words.", html=None)
        with session_scope(engine) as session:
            enqueue(session, [(f"r{n}@test.example", mail) for n in range(10)])
        smtp_sink.start()
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_VAR_DIR": str(tmp_path),
            "REGISTRY_SECRET_KEY": "test",
            "REGISTRY_SMTP_HOST": "127.0.0.1",
            "REGISTRY_SMTP_PORT": str(smtp_sink.port),
            "REGISTRY_MAIL_RATE_PER_MINUTE": "0",
        }
        process = subprocess.Popen([REGISTRY, "outbox", "deliver"], env=env, text=True, stderr=subprocess.PIPE)
        smtp_sink.deliverer = process
        process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL
        with Session(engine) as session:
            assert [m.status for m in _outbox(session)] == ["sent"] * 4 + ["queued"] * 6
        # Once the dead deliverer's lease ends, the next run sends the rest.
        settings = Settings(
            database_url=url, base_url="http://registry.test", smtp_host="127.0.0.1", smtp_port=smtp_sink.port
        )
        report = deliver_due(Database(engine), settings, now=utcnow() + LEASE + dt.timedelta(seconds=1))
        assert (report.sent, report.waiting) == (6, 0)
        ids = Counter(str(message["Message-ID"]) for message in smtp_sink.messages)
        assert len(ids) == 10 and max(ids.values()) == 1
        engine.dispose()
