from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class TrustTimeline(SQLModel, table=True):
    """Everything a verdict about one provider needs, rebuilt on every write that touches it.

    The lookup reads one row per request instead of scanning results, so its cost does not
    grow with the registry.
    """

    __tablename__ = "trust_timeline"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # The unscoped verdict today and the first day it may change, for filtering and sweeps.
    current_status: str = Field(index=True)
    status_until: dt.date | None = Field(default=None, index=True)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True)
    # What the key signs: "verdict" (signed lookups) or "federation" (OpenID Federation statements).
    purpose: str = Field(default="verdict", index=True)
    private_pem: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)
    # A retired key signs nothing new but stays published until its last verdict expires.
    retired_at: dt.datetime | None = None
    publish_until: dt.datetime | None = None


class TrustListEntry(SQLModel, table=True):
    """One provider as the trust list publishes it, at the feed position of its last change.

    The trust list is the rows with an entry; the change feed is the rows after a position, in
    position order. A provider that stops resolving keeps its row with no entry ("removed"), so a
    mirror following the feed hears of it.
    """

    __tablename__ = "trust_list_entry"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    position: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    # Canonical JSON text, served as stored: building the list never decodes and re-encodes it.
    entry: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_at: dt.datetime = Field(default_factory=utcnow)


class TrustFeedCounter(SQLModel, table=True):
    """The last feed position given out: one row, updated by each committing writer that changed the list.

    Its row lock, held to commit, hands out positions in commit order (see registry/trust/feed.py).
    """

    __tablename__ = "trust_feed_counter"

    id: int = Field(default=1, primary_key=True)
    position: int = Field(sa_column=Column(BigInteger, nullable=False))


class FederationSubordinateEvent(SQLModel, table=True):
    """An OpenID Federation subordinate event (registration, revocation, suspension, metadata_update).

    Written by the change feed in the same transaction as the list entry that caused it, keyed by that
    entry's feed position, so events become visible in commit order exactly as the feed does.
    """

    __tablename__ = "federation_subordinate_event"

    position: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # Several identifiers of one provider change in one feed position: their events in sub order.
    ordinal: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sub: str = Field(index=True)
    event: str
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    provider_id: int
    occurred_at: dt.datetime = Field(default_factory=utcnow)
