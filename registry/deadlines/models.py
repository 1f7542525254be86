from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class ReviewDeadline(SQLModel, table=True):
    """A date by which something must happen again, derived from the data."""

    __tablename__ = "review_deadline"

    id: int | None = Field(default=None, primary_key=True)
    # What the deadline is derived from, e.g. "result:12:expiry:provider:5"; syncing upserts on it.
    source_key: str = Field(unique=True)
    kind: str
    due_on: dt.date = Field(index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", index=True)
    result_id: int | None = Field(default=None, foreign_key="qa_result.id", index=True)
    assessment_id: int | None = Field(default=None, foreign_key="self_assessment.id")
    registration_id: int | None = Field(default=None, foreign_key="agency_registration.id")
    # Whom it concerns besides the provider's staff and the agency's editors.
    concerns_operators: bool = False
    description: str
    met_at: dt.datetime | None = None
    overdue_since: dt.date | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class DeadlineReminder(SQLModel, table=True):
    """The claim on one reminder: the unique constraint makes every (deadline, offset, due day) send once."""

    __tablename__ = "deadline_reminder"
    __table_args__ = (UniqueConstraint("deadline_id", "offset_days", "due_on", name="uq_deadline_reminder_once"),)

    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="review_deadline.id")
    # Days before the due day; 0 is the "missed" notice sent after it passed.
    offset_days: int
    due_on: dt.date
    claimed_at: dt.datetime = Field(default_factory=utcnow)


class ProviderStatusEvent(SQLModel, table=True):
    """Something a passing deadline changed for a provider: its verdict, or conditions now overdue."""

    __tablename__ = "provider_status_event"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    occurred_on: dt.date
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    detail: str
    # Two sweeps noticing the same change store it once.
    dedupe_key: str = Field(unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow)


class CalendarFeed(SQLModel, table=True):
    """A private iCalendar feed of one agency's or one provider's deadlines, reached by its secret token."""

    __tablename__ = "calendar_feed"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(unique=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", unique=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    regenerated_at: dt.datetime | None = None
