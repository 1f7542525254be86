from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class ApiToken(SQLModel, table=True):
    """A machine's credential to act for one agency; only the secret's SHA-256 is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    name: str
    token_hash: str = Field(unique=True, max_length=64)
    # The secret's first characters, so a person can tell their tokens apart without the secret.
    prefix: str = Field(max_length=16)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class SubmissionWarning(SQLModel, table=True):
    """Something a submitted report was accepted despite (e.g. validity beyond six years)."""

    __tablename__ = "submission_warning"

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="qa_result.id", index=True)
    message: str
    created_at: dt.datetime = Field(default_factory=utcnow)
