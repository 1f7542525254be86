from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, event
from sqlmodel import Field, SQLModel

from registry.folding import fold
from registry.timeutil import utcnow


class Provider(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    country_iso2: str = Field(foreign_key="country.iso2", max_length=2, index=True)
    provider_type: str = Field(index=True)
    website: str | None = None
    founded_on: dt.date | None = None
    closed_on: dt.date | None = None
    # Entries requested by a provider itself stay invisible to verifiers until confirmed.
    confirmed: bool = True
    is_demo: bool = False
    # The agency whose editor created the entry; it may edit what it created before recording a result.
    created_by_agency_id: int | None = Field(default=None, foreign_key="agency.id")
    # Who asked for a provider's own entry, so the confirming staff can reach them.
    request_contact: str | None = None
    # A refused entry request stays unconfirmed and leaves the waiting list; kept for audit.
    rejected_at: dt.datetime | None = None
    rejected_reason: str | None = None
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class ProviderName(SQLModel, table=True):
    __tablename__ = "provider_name"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    kind: str
    name: str = Field(index=True)
    # The name without accents or case (registry.folding.fold), kept in step with name on every write.
    folded: str = Field(default="", index=True)
    lang: str | None = Field(default=None, max_length=8)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


@event.listens_for(ProviderName, "before_insert")
@event.listens_for(ProviderName, "before_update")
def _fold_name(_mapper: Any, _connection: Any, target: ProviderName) -> None:
    target.folded = fold(target.name)


class ProviderSuspension(SQLModel, table=True):
    __tablename__ = "provider_suspension"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    suspended_from: dt.date
    # Open-ended when absent; the provider is trusted again from this day on.
    suspended_to: dt.date | None = None
    reason: str
    by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    # A suspension entered in error is cancelled: excluded from every verdict, kept for audit.
    cancelled_at: dt.datetime | None = None
    cancelled_reason: str | None = None


class ProviderRelation(SQLModel, table=True):
    __tablename__ = "provider_relation"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    kind: str
    related_provider_id: int = Field(foreign_key="provider.id", index=True)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    # What the provider's closing date was before a merger closed it, restored if the merger is withdrawn.
    replaced_closed_on: dt.date | None = None
    # A relation recorded in error is withdrawn: kept for the history, ignored by every verdict.
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None


class ProviderIdentifier(SQLModel, table=True):
    __tablename__ = "provider_identifier"
    __table_args__ = (Index("ix_provider_identifier_lookup", "scheme", "normalised"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    scheme: str
    value: str
    normalised: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    origin: str = "agency"
    established_at: dt.datetime = Field(default_factory=utcnow)
    # Scope of a "local" identifier: the agency that assigned it.
    agency_id: int | None = Field(default=None, foreign_key="agency.id")


class IdentifierChallenge(SQLModel, table=True):
    """A random text the provider publishes or signs to prove it controls a claimed identifier."""

    __tablename__ = "identifier_challenge"

    id: int | None = Field(default=None, primary_key=True)
    identifier_id: int = Field(foreign_key="provider_identifier.id", index=True)
    # Not a secret: the provider publishes it; single use and a short life keep it from being replayed.
    challenge: str = Field(unique=True)
    issued_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    used_at: dt.datetime | None = None
