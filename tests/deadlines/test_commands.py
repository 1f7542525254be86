"""The deadline commands, run the way an operator runs them, against an SQLite registry of their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from registry import migrations
from registry.cli import main
from registry.db import get_engine, session_scope
from registry.deadlines.models import DeadlineReminder
from registry.deadlines.sweep import reminder_windows
from registry.settings import get_settings
from registry.timeutil import today
from tests.conftest import SmtpSink


@pytest.fixture
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("REGISTRY_BASE_URL", "http://cli.test")
    monkeypatch.delenv("REGISTRY_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class TestDeadlineCommands:
    def test_run_once_queues_the_demo_reminders_and_sends_nothing_twice(self, registry_env: None) -> None:
        runner = CliRunner()
        assert runner.invoke(main, ["setup"]).exit_code == 0
        first = runner.invoke(main, ["deadlines", "run-once"])
        assert first.exit_code == 0, first.output
        assert "0 reminders" not in first.output
        assert "0 sent, 0 failed" in first.output  # no SMTP host: the messages wait in the outbox
        again = runner.invoke(main, ["deadlines", "run-once"])
        assert again.output.startswith("0 reminders (0 messages)")

    def test_run_once_sweeps_for_another_day(self, registry_env: None) -> None:
        runner = CliRunner()
        assert runner.invoke(main, ["setup"]).exit_code == 0
        assert runner.invoke(main, ["deadlines", "run-once"]).exit_code == 0
        later = today() + dt.timedelta(days=200)
        with session_scope(get_engine(get_settings())) as session:
            before = {row.id for row in session.exec(select(DeadlineReminder))}
        swept = runner.invoke(main, ["deadlines", "run-once", "--today", later.isoformat()])
        assert swept.exit_code == 0, swept.output
        assert not swept.output.startswith("0 reminders")
        with session_scope(get_engine(get_settings())) as session:
            claimed = [row for row in session.exec(select(DeadlineReminder)) if row.id not in before]
        # Each new claim sits in the reminder window it has as seen from that day, not from today.
        windows = reminder_windows(later, get_settings().reminder_offsets)
        assert claimed and all(
            any(offset == row.offset_days and first <= row.due_on <= last for offset, first, last in windows)
            for row in claimed
        )
        again = runner.invoke(main, ["deadlines", "run-once", "--today", later.isoformat()])
        assert again.output.startswith("0 reminders (0 messages)")
        malformed = runner.invoke(main, ["deadlines", "run-once", "--today", "2025-13-01"])
        assert malformed.exit_code == 2 and "does not match the format" in malformed.output

    def test_another_day_is_refused_in_production_unless_forced(
        self, registry_env: None, monkeypatch: pytest.MonkeyPatch, postgres_url: str
    ) -> None:
        runner = CliRunner()
        for name, value in (("REGISTRY_WORKERS", "2"), ("REGISTRY_DATABASE_URL", postgres_url)):
            monkeypatch.setenv(name, value)
            get_settings.cache_clear()
            refused = runner.invoke(main, ["deadlines", "run-once", "--today", "2030-01-01"])
            assert refused.exit_code == 2 and "refused on a production deployment" in refused.output
        monkeypatch.setenv("REGISTRY_SECRET_KEY", "cli-test")
        migrations.upgrade(postgres_url)
        forced = runner.invoke(main, ["deadlines", "run-once", "--today", "2030-01-01", "--force"])
        assert forced.exit_code == 0, forced.output
        assert forced.output.startswith("0 reminders")

    def test_calendar_url_prints_a_private_feed_and_regenerates_it(self, registry_env: None) -> None:
        runner = CliRunner()
        assert runner.invoke(main, ["setup"]).exit_code == 0
        first = runner.invoke(main, ["deadlines", "calendar-url", "--provider-id", "1"]).output.strip()
        assert first.startswith("http://cli.test/calendars/") and first.endswith(".ics")
        assert runner.invoke(main, ["deadlines", "calendar-url", "--provider-id", "1"]).output.strip() == first
        regenerated = runner.invoke(main, ["deadlines", "calendar-url", "--provider-id", "1", "--regenerate"])
        assert regenerated.output.strip() != first
        missing = runner.invoke(main, ["deadlines", "calendar-url"])
        assert missing.exit_code != 0 and "exactly one agency or one provider" in missing.output


class TestOutboxCommands:
    def test_failing_delivery_stays_visible_and_a_later_delivery_sends(
        self, registry_env: None, monkeypatch: pytest.MonkeyPatch, smtp_sink: SmtpSink
    ) -> None:
        runner = CliRunner()
        assert runner.invoke(main, ["setup"]).exit_code == 0
        monkeypatch.setenv("REGISTRY_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("REGISTRY_SMTP_PORT", str(smtp_sink.port))  # nothing listens yet
        get_settings.cache_clear()
        swept = runner.invoke(main, ["deadlines", "run-once"])
        assert "0 sent" in swept.output and "0 failed" not in swept.output
        status = runner.invoke(main, ["outbox", "status"]).output
        assert "sent 0" in status and "cannot reach SMTP server" in status and "1 attempts" in status
        smtp_sink.start()
        # Not due yet: the back-off holds the retry.
        assert "0 sent" in runner.invoke(main, ["outbox", "deliver"]).output
        assert smtp_sink.messages == []
