from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class ReviewDeadline(SQLModel, table=True):
    """A date by which something must happen again, derived from the data."""

    __tablename__ = "review_deadline"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    due_on: dt.date = Field(index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", index=True)
    result_id: int | None = Field(default=None, foreign_key="qa_result.id")
    assessment_id: int | None = Field(default=None, foreign_key="self_assessment.id")
    registration_id: int | None = Field(default=None, foreign_key="agency_registration.id")
    description: str
    met_at: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
