from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class SelfAssessment(SQLModel, table=True):
    """A provider's account of its internal QA against ESG Part 1; every version is its own row."""

    __tablename__ = "self_assessment"
    __table_args__ = (UniqueConstraint("provider_id", "version_number", name="uq_self_assessment_version"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    version_number: int = 1
    state: str = "draft"
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    submitted_at: dt.datetime | None = None
    reviewed_at: dt.datetime | None = None
    reviewer_user_id: int | None = Field(default=None, foreign_key="user.id")
    review_comment: str | None = None
    accepted_on: dt.date | None = None
    next_due: dt.date | None = None
    is_demo: bool = False
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class SelfAssessmentEntry(SQLModel, table=True):
    """One ESG Part 1 standard (1.1-1.10) of a self-assessment."""

    __tablename__ = "self_assessment_entry"
    __table_args__ = (UniqueConstraint("assessment_id", "standard_code", name="uq_self_assessment_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="self_assessment.id", index=True)
    standard_code: str = Field(foreign_key="esg_standard.code")
    rating: str | None = None
    narrative: str | None = None
    evidence_links: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviewer_comment: str | None = None


class EvidenceFile(SQLModel, table=True):
    """An uploaded evidence document; the bytes live under var/evidence, named by their SHA-256."""

    __tablename__ = "evidence_file"

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="self_assessment.id", index=True)
    # The standard (1.1-1.10) the file supports; absent for evidence of the whole assessment.
    standard_code: str | None = Field(default=None, foreign_key="esg_standard.code")
    filename: str
    media_type: str
    size: int
    sha256: str = Field(max_length=64, index=True)
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    uploaded_at: dt.datetime = Field(default_factory=utcnow)
    # Withdrawn evidence no longer belongs to the self-assessment; the row and bytes stay for audit.
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None
