from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class Agency(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    acronym: str = Field(index=True)
    country_iso2: str = Field(foreign_key="country.iso2", max_length=2)
    website: str | None = None
    deqar_agency_id: int | None = Field(default=None, unique=True)
    # ESG activities the agency runs (activity types from the DEQAR vocabulary).
    activities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_demo: bool = False
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)


class AgencyRegistration(SQLModel, table=True):
    """A window during which the agency was listed on EQAR."""

    __tablename__ = "agency_registration"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    registered_from: dt.date
    registered_to: dt.date | None = None
    decision: str = "registered"
    # Where the window comes from, e.g. the 2019-2020 EQAR snapshot (history, not today).
    source: str = "entered"
    # A window entered in error is withdrawn: it no longer counts for any result, and stays for audit.
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None
