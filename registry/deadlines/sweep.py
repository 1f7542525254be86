"""The deadline sweep: reminders before and after each deadline, overdue conditions, verdict changes.

Every step is set-based SQL, and every effect is claimed through a unique constraint (a reminder
per deadline, offset and due day; an event per dedupe key), so re-running the sweep, or two
schedulers running it at once, never sends or records anything twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, or_, select, text, update
from sqlmodel import Session, col

from registry.accounts.models import RoleMembership, User
from registry.agencies.models import Agency
from registry.db import dialect_insert
from registry.deadlines.models import DeadlineReminder, ProviderStatusEvent, ReviewDeadline
from registry.deadlines.services import CONDITIONS_DUE, EQAR_REGISTRATION_END
from registry.mail.services import Mail, enqueue, render
from registry.providers.models import Provider, ProviderName
from registry.settings import Settings, get_settings
from registry.timeutil import utcnow
from registry.trust import timeline
from registry.trust.models import TrustTimeline
from registry.trust.verdict import TRUSTED_STATUSES

MISSED = 0  # the offset of the notice sent once a deadline has passed
# A missed notice goes out within this many days of the deadline, never for old history.
CATCH_UP_DAYS = 30
_CHUNK = 5000
_SWEEP_LOCK = 0x5EED_DEAD  # the advisory lock id of the sweep

_deadlines = ReviewDeadline.__table__  # type: ignore[attr-defined]
_reminders = DeadlineReminder.__table__  # type: ignore[attr-defined]
_events = ProviderStatusEvent.__table__  # type: ignore[attr-defined]
_timelines = TrustTimeline.__table__  # type: ignore[attr-defined]
_providers = Provider.__table__  # type: ignore[attr-defined]
_memberships = RoleMembership.__table__  # type: ignore[attr-defined]
_users = User.__table__  # type: ignore[attr-defined]


# Reminders one sweep claims at most: a backlog (a first run, a bulk import) drains over the next
# runs, most urgent first, instead of one run rendering e-mail for minutes inside a transaction.
MAX_REMINDERS = 10_000


@dataclass(frozen=True)
class SweepReport:
    reminders: int
    messages: int
    overdue_conditions: int
    verdict_changes: int
    # True when the reminder limit was reached: the next run continues.
    more: bool = False


def run_sweep(
    session: Session, today: dt.date, settings: Settings | None = None, max_reminders: int = MAX_REMINDERS
) -> SweepReport:
    settings = settings or get_settings()
    _serialise_sweeps(session)
    overdue = _mark_overdue_conditions(session, today)
    changes = _record_verdict_changes(session, today)
    claimed = _claim_reminders(session, today, settings.reminder_offsets, max_reminders)
    messages = _write_reminders(session, claimed, today, settings)
    session.flush()
    return SweepReport(len(claimed), messages, overdue, changes, more=len(claimed) >= max_reminders)


def _serialise_sweeps(session: Session) -> None:
    """On PostgreSQL a second scheduler's sweep waits for the first to commit, then finds its work claimed.

    The unique constraints alone prevent double sends; the lock spares concurrent sweeps from
    deadlocking on the rows both update. SQLite serialises writers by itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SWEEP_LOCK})


def reminder_windows(today: dt.date, offsets: tuple[int, ...]) -> list[tuple[int, dt.date, dt.date]]:
    """(offset, first due day, last due day): each open deadline sits in at most one window.

    A deadline 50 days away with offsets 180, 90, 30, 7 is in the 90-day window, so a deadline
    created late, or a sweep that did not run for a while, still sends the one reminder that fits.
    """
    ordered = sorted(offsets, reverse=True)
    windows = []
    for index, offset in enumerate(ordered):
        nearer = ordered[index + 1] + 1 if index + 1 < len(ordered) else 0
        windows.append((offset, today + dt.timedelta(days=nearer), today + dt.timedelta(days=offset)))
    windows.append((MISSED, today - dt.timedelta(days=CATCH_UP_DAYS), today - dt.timedelta(days=1)))
    return windows


def _claim_reminders(session: Session, today: dt.date, offsets: tuple[int, ...], limit: int) -> list[int]:
    claimed: list[int] = []
    now = literal(utcnow(), type_=_reminders.c.claimed_at.type)
    # Most urgent first: missed notices, then the nearest window.
    for offset, first, last in sorted(reminder_windows(today, offsets), key=lambda window: window[0]):
        if len(claimed) >= limit:
            break
        sent = (
            select(_reminders.c.id)
            .where(
                _reminders.c.deadline_id == _deadlines.c.id,
                _reminders.c.offset_days == offset,
                _reminders.c.due_on == _deadlines.c.due_on,
            )
            .exists()
        )
        due = (
            select(_deadlines.c.id, literal(offset), _deadlines.c.due_on, now)
            .where(
                _deadlines.c.met_at.is_(None),
                _deadlines.c.due_on.between(first, last),
                ~sent,
                ~_closed(today),
                # Claimed only once someone can receive it: staff added later still get it.
                _has_recipient(),
            )
            .order_by(_deadlines.c.due_on, _deadlines.c.id)
            .limit(limit - len(claimed))
        )
        statement = (
            dialect_insert(session, _reminders)
            .from_select(["deadline_id", "offset_days", "due_on", "claimed_at"], due)
            .on_conflict_do_nothing()
            .returning(_reminders.c.id)
        )
        claimed += session.execute(statement).scalars().all()
    return claimed


def _closed(today: dt.date) -> Any:
    """The deadline's provider has closed (or was absorbed): nothing is due from it any more."""
    closed_on = (
        select(_providers.c.id)
        .where(_providers.c.id == _deadlines.c.provider_id, _providers.c.closed_on <= today)
        .exists()
    )
    absorbed = (
        select(_timelines.c.provider_id)
        .where(_timelines.c.provider_id == _deadlines.c.provider_id, _timelines.c.current_status == "closed")
        .exists()
    )
    return or_(closed_on, absorbed)


def _has_recipient() -> Any:
    """Someone active receives the deadline's reminders (see _Recipients.of)."""

    def holders(role: str, column: str) -> Any:
        # Uncorrelated, so the database builds each set once rather than once per deadline.
        return (
            select(_memberships.c[column])
            .join(_users, _users.c.id == _memberships.c.user_id)
            .where(_users.c.is_active.is_(True), _memberships.c.role == role, _memberships.c[column].is_not(None))
        )

    operators = (
        select(_memberships.c.id)
        .join(_users, _users.c.id == _memberships.c.user_id)
        .where(_users.c.is_active.is_(True), _memberships.c.role == "operator")
        .exists()
    )
    return or_(
        _deadlines.c.provider_id.in_(holders("provider staff", "provider_id")),
        _deadlines.c.agency_id.in_(holders("agency editor", "agency_id")),
        and_(_deadlines.c.concerns_operators.is_(True), operators),
    )


def _mark_overdue_conditions(session: Session, today: dt.date) -> int:
    overdue = and_(
        _deadlines.c.kind == CONDITIONS_DUE,
        _deadlines.c.due_on < today,
        _deadlines.c.met_at.is_(None),
        _deadlines.c.overdue_since.is_(None),
    )
    status = (
        select(_timelines.c.current_status)
        .where(_timelines.c.provider_id == _deadlines.c.provider_id)
        .scalar_subquery()
    )
    events = select(
        _deadlines.c.provider_id,
        literal(today),
        literal("conditions_overdue"),
        status,
        status,
        literal("The follow-up on the conditions of a QA result, due ")
        + cast(_deadlines.c.due_on, String)
        + literal(", is overdue."),
        literal("conditions_overdue:")
        + cast(_deadlines.c.id, String)
        + literal(":")
        + cast(_deadlines.c.due_on, String),
        literal(utcnow(), type_=_events.c.created_at.type),
    ).where(overdue, _deadlines.c.provider_id.is_not(None))
    session.execute(
        dialect_insert(session, _events)
        .from_select(
            ["provider_id", "occurred_on", "kind", "from_status", "to_status", "detail", "dedupe_key", "created_at"],
            events,
        )
        .on_conflict_do_nothing()
    )
    marked = session.execute(update(_deadlines).where(overdue).values(overdue_since=today))
    return int(marked.rowcount or 0)  # type: ignore[attr-defined]


def _record_verdict_changes(session: Session, today: dt.date) -> int:
    """Let the stored current verdicts catch up with the day and keep every change as an event."""
    before = dict(
        session.execute(
            select(_timelines.c.provider_id, _timelines.c.current_status).where(
                _timelines.c.status_until.is_not(None), _timelines.c.status_until <= today
            )
        ).all()
    )
    if not before:
        return 0
    timeline.refresh_stale(session, today)
    ids = list(before)
    rows = []
    for start in range(0, len(ids), _CHUNK):
        after = session.execute(
            select(_timelines.c.provider_id, _timelines.c.current_status).where(
                _timelines.c.provider_id.in_(ids[start : start + _CHUNK])
            )
        ).all()
        for provider_id, status in after:
            if status != before[provider_id]:
                rows.append(
                    {
                        "provider_id": provider_id,
                        "occurred_on": today,
                        "kind": "verdict_changed",
                        "from_status": before[provider_id],
                        "to_status": status,
                        "detail": f"The verdict changed from {before[provider_id]} to {status} as a deadline passed.",
                        "dedupe_key": f"verdict:{provider_id}:{today.isoformat()}:{status}",
                        "created_at": utcnow(),
                    }
                )
    if rows:
        session.execute(dialect_insert(session, _events).on_conflict_do_nothing(), rows)
    return len(rows)


@dataclass
class _Recipients:
    operators: list[str]
    agency_editors: dict[int, list[str]]
    provider_staff: dict[int, list[str]]

    def of(self, provider_id: int | None, agency_id: int | None, operators: bool) -> list[str]:
        found = list(self.provider_staff.get(provider_id or 0, []))
        found += self.agency_editors.get(agency_id or 0, [])
        if operators:
            found += self.operators
        return sorted(set(found))


def _recipients(session: Session) -> _Recipients:
    rows = session.execute(
        select(
            col(User.email), col(RoleMembership.role), col(RoleMembership.agency_id), col(RoleMembership.provider_id)
        )
        .join(RoleMembership, col(RoleMembership.user_id) == User.id)
        .where(col(User.is_active).is_(True))
    ).all()
    found = _Recipients([], defaultdict(list), defaultdict(list))
    for email, role, agency_id, provider_id in rows:
        if role == "operator":
            found.operators.append(email)
        elif role == "agency editor" and agency_id is not None:
            found.agency_editors[agency_id].append(email)
        elif role == "provider staff" and provider_id is not None:
            found.provider_staff[provider_id].append(email)
    return found


def _write_reminders(session: Session, claimed: list[int], today: dt.date, settings: Settings) -> int:
    if not claimed:
        return 0
    recipients = _recipients(session)
    provider_name = (
        select(func.min(ProviderName.name))
        .where(col(ProviderName.provider_id) == _deadlines.c.provider_id, col(ProviderName.kind) == "official")
        .scalar_subquery()
    )
    written = 0
    for start in range(0, len(claimed), _CHUNK):
        rows = session.execute(
            select(
                _reminders.c.id,
                _reminders.c.offset_days,
                _deadlines.c.kind,
                _deadlines.c.due_on,
                _deadlines.c.description,
                _deadlines.c.provider_id,
                _deadlines.c.agency_id,
                _deadlines.c.concerns_operators,
                provider_name.label("provider_name"),
                col(Agency.name).label("agency_name"),
                _timelines.c.current_status.label("verdict"),
            )
            .join(_deadlines, _deadlines.c.id == _reminders.c.deadline_id)
            .outerjoin(Agency, Agency.id == _deadlines.c.agency_id)  # type: ignore[arg-type]
            .outerjoin(_timelines, _timelines.c.provider_id == _deadlines.c.provider_id)
            .where(_reminders.c.id.in_(claimed[start : start + _CHUNK]))
        ).all()
        deliveries: list[tuple[str, Mail]] = []
        for row in rows:
            to = recipients.of(row.provider_id, row.agency_id, row.concerns_operators)
            if not to:
                continue
            mail = reminder_mail(row._asdict(), today, settings)
            deliveries += [(address, mail) for address in to]
        written += enqueue(session, deliveries)
    return written


# (before the day, once missed) per kind.
_SUBJECTS = {
    "result_expiry": ("{who}: QA result by {agency} ends on {due}", "{who}: QA result by {agency} ended on {due}"),
    "conditions_due": (
        "{who}: conditions follow-up for {agency} due on {due}",
        "{who}: conditions follow-up for {agency} was due on {due}",
    ),
    "self_assessment_due": (
        "{who}: internal-QA self-assessment due on {due}",
        "{who}: internal-QA self-assessment was due on {due}",
    ),
    EQAR_REGISTRATION_END: ("{agency}: EQAR registration ends on {due}", "{agency}: EQAR registration ended on {due}"),
}


def _due_in(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def _overdue_by(days: int) -> str:
    return "1 day ago" if days == 1 else f"{days} days ago"


def reminder_mail(row: dict[str, Any], today: dt.date, settings: Settings) -> Mail:
    """One reminder's message; every recipient of it gets the same text."""
    kind = row["kind"]
    missed = row["offset_days"] == MISSED
    due: dt.date = row["due_on"]
    link = f"{settings.base_url}/providers/{row['provider_id']}" if row["provider_id"] else f"{settings.base_url}/"
    context = {
        "kind": kind,
        "missed": missed,
        "due_on": due.isoformat(),
        "due_in": _due_in((due - today).days),
        "overdue_by": _overdue_by((today - due).days),
        # The provider's verdict today, as the sweep has just brought it up to date.
        "verdict": row.get("verdict"),
        "still_trusted": row.get("verdict") in TRUSTED_STATUSES,
        "description": row["description"],
        "provider_name": row["provider_name"],
        "agency_name": row["agency_name"],
        "link": link,
    }
    upcoming, passed = _SUBJECTS[kind]
    subject = (passed if missed else upcoming).format(
        who=row["provider_name"] or "Provider", agency=row["agency_name"] or "the agency", due=due.isoformat()
    )
    prefix = "Missed: " if missed else "Reminder: "
    return render(f"deadlines/{kind}", prefix + subject, context, cause=f"reminder:{row['id']}")
