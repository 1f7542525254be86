from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class QAResult(SQLModel, table=True):
    """One agency's external QA decision (ESG Part 2), DEQAR's "report"."""

    __tablename__ = "qa_result"
    __table_args__ = (UniqueConstraint("agency_id", "local_id", name="uq_qa_result_agency_local_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: uq_qa_result_agency_local_id starts with agency_id and serves its look-ups.
    agency_id: int = Field(foreign_key="agency.id")
    local_id: str | None = None
    activity_type: str
    status: str
    decision: str
    valid_from: dt.date
    # Stored as given or as valid_from + 6 years (DEQAR's default); inclusive.
    valid_to: dt.date
    revoked_from: dt.date | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None
    withdrawn_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    conditions_due: dt.date | None = None
    limit_eqf_levels: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    limit_fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    limit_jurisdictions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    report_links: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    summary: str | None = None
    is_demo: bool = False
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class QAResultProvider(SQLModel, table=True):
    __tablename__ = "qa_result_provider"

    result_id: int = Field(foreign_key="qa_result.id", primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", primary_key=True, index=True)


class QAResultContributingAgency(SQLModel, table=True):
    __tablename__ = "qa_result_contributing_agency"

    result_id: int = Field(foreign_key="qa_result.id", primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", primary_key=True)


class QAResultProgramme(SQLModel, table=True):
    """A programme or micro-credential a programme-level result covers."""

    __tablename__ = "qa_result_programme"

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="qa_result.id", index=True)
    name: str
    identifier: str | None = None
    ects: float | None = None
    eqf_level: int | None = None
    isced_field: str | None = None
    full_degree: bool = True


class QAReportFile(SQLModel, table=True):
    __tablename__ = "qa_report_file"

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="qa_result.id", index=True)
    filename: str
    content_type: str
    size: int
    sha256: str = Field(max_length=64)
    storage_path: str
    uploaded_at: dt.datetime = Field(default_factory=utcnow)
    # A file uploaded in error is withdrawn: no longer offered, the bytes and the row kept for audit.
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None
