from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlmodel import Session, col, select

from registry.deadlines.models import DeadlineReminder, ProviderStatusEvent, ReviewDeadline
from registry.deadlines.services import CONDITIONS_DUE, RESULT_EXPIRY
from registry.deadlines.sweep import MISSED, reminder_windows, run_sweep
from registry.mail.delivery import deliver_due
from registry.mail.models import OutboxMessage
from registry.providers.models import Provider
from registry.qa.models import QAResult
from registry.settings import Settings
from registry.web import Database
from tests.conftest import SmtpSink
from tests.deadlines.conftest import TODAY, days


def _reminders(session: Session, result: QAResult, kind: str = RESULT_EXPIRY) -> list[int]:
    return list(
        session.exec(
            select(DeadlineReminder.offset_days)
            .join(ReviewDeadline, col(ReviewDeadline.id) == DeadlineReminder.deadline_id)
            .where(ReviewDeadline.result_id == result.id, ReviewDeadline.kind == kind)
            .order_by(col(DeadlineReminder.id))
        )
    )


def _outbox(session: Session) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


class TestReminderWindows:
    def test_each_day_before_a_deadline_falls_in_exactly_one_window(self) -> None:
        windows = reminder_windows(TODAY, (180, 90, 30, 7))
        for ahead in range(-40, 200):
            due = days(ahead)
            matching = [offset for offset, first, last in windows if first <= due <= last]
            expected = 0 if ahead > 180 or ahead < -30 else 1
            assert len(matching) == expected, ahead
        assert [offset for offset, first, last in windows if first <= days(-1) <= last] == [MISSED]


class TestReminders:
    def test_a_reminder_per_offset_then_a_missed_notice_each_sent_once(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        result = make_result(staff_and_editor, valid_to=days(100))
        for day in (TODAY, TODAY, days(5), days(70), days(95), days(100), days(101), days(102)):
            run_sweep(session, day, settings)
        assert _reminders(session, result) == [180, 30, 7, MISSED]

    def test_reminders_go_to_provider_staff_and_agency_editors_with_a_link(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        make_result(staff_and_editor, valid_to=days(20))
        report = run_sweep(session, TODAY, settings)
        messages = _outbox(session)
        assert report.reminders >= 1
        recipients = sorted(m.to.split("@")[1] for m in messages)
        assert recipients == ["agency.test", "lakeside.test"]
        for message in messages:
            assert message.status == "queued"
            assert "Lakeside University" in message.subject
            assert "ends on " + days(20).isoformat() in message.subject
            assert f"http://registry.test/providers/{staff_and_editor.id}" in message.text
            assert f'href="http://registry.test/providers/{staff_and_editor.id}"' in (message.html or "")
            assert "in 20 days" in message.text

    def test_operators_hear_of_conditions_and_a_missed_deadline_says_so(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        make_result(
            staff_and_editor,
            decision="positive with conditions or restrictions",
            conditions_due=days(-2),
            valid_to=days(1000),
        )
        run_sweep(session, TODAY, settings)
        [missed] = [m for m in _outbox(session) if m.to.endswith("@registry.test")]
        assert missed.subject.startswith("Missed: ")
        assert "was due on " + days(-2).isoformat() in missed.subject
        assert "2 days ago" in missed.text

    def test_a_moved_deadline_is_reminded_again(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        from registry.qa.services import revoke_result
        from tests.deadlines.conftest import TEST

        result = make_result(staff_and_editor, valid_to=days(25))
        run_sweep(session, TODAY, settings)
        revoke_result(session, result, revoked_from=days(20), actor=TEST)
        run_sweep(session, TODAY, settings)
        rows = session.exec(select(col(DeadlineReminder.due_on)).order_by(col(DeadlineReminder.id))).all()
        assert rows[-2:] == [days(25), days(20)]

    def test_a_renewed_result_is_not_reminded(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        old = make_result(staff_and_editor, valid_from=days(-2000), valid_to=days(20))
        make_result(staff_and_editor, valid_from=days(21), valid_to=days(2000))
        run_sweep(session, TODAY, settings)
        run_sweep(session, days(21), settings)
        assert _reminders(session, old) == []

    def test_a_backlog_drains_over_runs_most_urgent_first(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        provider = staff_and_editor
        results = [make_result(provider, valid_to=days(ahead)) for ahead in (150, -3, 20)]
        first = run_sweep(session, TODAY, settings, max_reminders=2)
        assert (first.reminders, first.more) == (2, True)
        assert [_reminders(session, result) for result in results] == [[], [MISSED], [30]]
        second = run_sweep(session, TODAY, settings, max_reminders=2)
        assert (second.reminders, second.more) == (1, False)
        assert [_reminders(session, result) for result in results] == [[180], [MISSED], [30]]
        assert run_sweep(session, TODAY, settings, max_reminders=2).reminders == 0


class TestPassingDeadlines:
    def test_overdue_conditions_are_marked_and_recorded_once(
        self,
        session: Session,
        settings: Settings,
        make_provider: Callable[..., Provider],
        make_result: Callable[..., QAResult],
    ) -> None:
        provider = make_provider()
        result = make_result(provider, decision="positive with conditions or restrictions", conditions_due=days(3))
        assert run_sweep(session, days(3), settings).overdue_conditions == 0
        assert run_sweep(session, days(4), settings).overdue_conditions == 1
        assert run_sweep(session, days(5), settings).overdue_conditions == 0
        deadline = session.exec(
            select(ReviewDeadline).where(ReviewDeadline.result_id == result.id, ReviewDeadline.kind == CONDITIONS_DUE)
        ).one()
        assert deadline.overdue_since == days(4)
        events = session.exec(select(ProviderStatusEvent).where(ProviderStatusEvent.provider_id == provider.id)).all()
        assert [(e.kind, e.occurred_on) for e in events] == [("conditions_overdue", days(4))]

    def test_an_expiry_records_the_verdict_change_for_the_provider(
        self,
        session: Session,
        settings: Settings,
        make_provider: Callable[..., Provider],
        make_result: Callable[..., QAResult],
    ) -> None:
        provider = make_provider()
        make_result(provider, valid_to=days(100))
        assert run_sweep(session, days(100), settings).verdict_changes == 0
        assert run_sweep(session, days(101), settings).verdict_changes == 1
        assert run_sweep(session, days(101), settings).verdict_changes == 0
        events = session.exec(select(ProviderStatusEvent).where(ProviderStatusEvent.provider_id == provider.id)).all()
        assert [(e.kind, e.from_status, e.to_status, e.occurred_on) for e in events] == [
            ("verdict_changed", "trusted", "expired", days(101))
        ]


class TestEndToEnd:
    def test_a_swept_reminder_arrives_over_smtp_with_the_record_link(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
        smtp_sink: SmtpSink,
    ) -> None:
        smtp_sink.start()
        make_result(staff_and_editor, valid_to=days(7))
        run_sweep(session, TODAY, settings)
        configured = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
        assert deliver_due(Database(session.connection()), configured).sent == 2
        [to_staff] = [m for m in smtp_sink.messages if "lakeside.test" in m["To"]]
        # A long subject is folded onto a continuation line; the parser keeps the fold's space.
        subject = str(to_staff["Subject"]).strip()
        assert subject.startswith("Reminder: Lakeside University: QA result by Test Agency")
        assert subject.endswith(f"ends on {days(7).isoformat()}")
        text = to_staff.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"http://registry.test/providers/{staff_and_editor.id}" in text
        assert "in 7 days" in text


class TestWhoIsReminded:
    def test_a_closed_provider_is_not_reminded(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        result = make_result(staff_and_editor, valid_to=days(20))
        staff_and_editor.closed_on = days(-1)
        session.add(staff_and_editor)
        session.flush()
        report = run_sweep(session, TODAY, settings)
        assert (_reminders(session, result), report.messages) == ([], 0)
        assert _outbox(session) == []

    def test_a_reminder_nobody_could_receive_waits_for_the_staff_added_later(
        self,
        session: Session,
        settings: Settings,
        make_provider: Callable[..., Provider],
        make_result: Callable[..., QAResult],
    ) -> None:
        from registry.accounts.services import create_user
        from tests.deadlines.conftest import TEST

        provider = make_provider("Unstaffed College")
        result = make_result(provider, valid_to=days(20))
        assert run_sweep(session, TODAY, settings).reminders == 0
        assert _reminders(session, result) == []
        create_user(
            session,
            email="first.staff@unstaffed.test",
            display_name="First staff",
            password=None,
            role="provider staff",
            provider_id=provider.id,
            actor=TEST,
        )
        run_sweep(session, days(1), settings)
        assert _reminders(session, result) == [30]
        [message] = _outbox(session)
        assert message.to == "first.staff@unstaffed.test" and "Unstaffed College" in message.subject

    def test_a_missed_expiry_says_the_provider_is_still_trusted_when_another_result_covers_it(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        make_result(staff_and_editor, valid_to=days(-2))
        # An older result that lasts longer does not renew the first one, but it still covers the provider.
        make_result(staff_and_editor, valid_from=days(-1000), valid_to=days(2000))
        run_sweep(session, TODAY, settings)
        [missed] = [m for m in _outbox(session) if m.to.endswith("@lakeside.test") and m.subject.startswith("Missed")]
        assert "still see it as trusted" in missed.text
        assert "expired" not in missed.text

    def test_a_missed_expiry_says_expired_when_nothing_else_covers_it(
        self,
        session: Session,
        settings: Settings,
        staff_and_editor: Provider,
        make_result: Callable[..., QAResult],
    ) -> None:
        make_result(staff_and_editor, valid_to=days(-2))
        run_sweep(session, TODAY, settings)
        [missed] = [m for m in _outbox(session) if m.to.endswith("@lakeside.test")]
        assert "Verifiers now see this provider as expired" in missed.text
