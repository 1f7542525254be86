"""A mirror's local SQLite copy of a registry's trust list.

Its identifier and timeline tables carry the registry's own table and column names, so the
registry's lookup statement and verdict function (registry/trust/services.py) answer from it
unchanged: a mirror's verdict is the registry's verdict by construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from registry.db import create_db_engine
from registry.settings import Settings
from registry.trust.publication import policy_from

metadata = MetaData()
identifiers = Table(
    "provider_identifier",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider_id", Integer, nullable=False, index=True),
    Column("scheme", String, nullable=False),
    Column("value", String, nullable=False),
    Column("normalised", String, nullable=False),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("origin", String, nullable=False),
    Index("ix_mirror_identifier_lookup", "scheme", "normalised"),
)
timelines = Table(
    "trust_timeline",
    metadata,
    Column("provider_id", Integer, primary_key=True),
    Column("document", Text, nullable=False),
)
# The entries as received, apart from the timelines so that lookups read small rows.
entries = Table(
    "mirror_entry",
    metadata,
    Column("provider_id", Integer, primary_key=True),
    Column("entry", Text, nullable=False),
)
state = Table(
    "mirror_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String, nullable=False),
    Column("issuer", String, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("policy", Text, nullable=False),
    Column("jwks", Text, nullable=False),
    Column("synced_at", String, nullable=False),
)
# Every identifier the registry publishes resolves; the mirror stores them under one resolving origin.
MIRRORED_ORIGIN = "imported"


@dataclass(frozen=True)
class MirrorState:
    source: str
    issuer: str
    position: int
    policy: dict[str, Any]
    jwks: dict[str, Any]


def open_store(path: str | Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{Path(path).resolve()}")
    metadata.create_all(engine)
    return engine


def read_state(engine: Engine) -> MirrorState | None:
    with engine.connect() as connection:
        row = connection.execute(select(state).where(state.c.id == 1)).first()
    if row is None:
        return None
    return MirrorState(
        row.source, row.issuer, int(row.position), msgspec.json.decode(row.policy), msgspec.json.decode(row.jwks)
    )


def settings_for(path: str | Path, mirrored: MirrorState) -> Settings:
    """Settings under which the registry's verdict function answers exactly as the source does."""
    policy = policy_from(mirrored.policy)
    return Settings(
        database_url=f"sqlite:///{Path(path).resolve()}",
        base_url=mirrored.issuer,
        require_eqar_registered=policy.require_eqar_registered,
        require_internal_qa_years=policy.require_internal_qa_years,
    )


def replace_all(engine: Engine, listed: Iterable[dict[str, Any]], verified: Callable[[], MirrorState]) -> int:
    """Replace the whole copy with a trust list, in one transaction, in batches as listed yields them.

    verified() is asked after the last entry for the new sync state; if it raises, nothing is kept.
    """
    count = 0
    with engine.begin() as connection:
        for table in (identifiers, timelines, entries):
            connection.execute(delete(table))
        batch: list[dict[str, Any]] = []
        for entry in listed:
            batch.append(entry)
            count += 1
            if len(batch) == 1000:
                _insert(connection, batch)
                batch = []
        _insert(connection, batch)
        _save_state(connection, verified())
    with engine.begin() as connection:
        # Statistics for the query planner, as the registry's own database has them.
        connection.exec_driver_sql("ANALYZE")
    return count


def apply_changes(engine: Engine, changes: list[dict[str, Any]], new_state: MirrorState) -> None:
    """Apply one page of the feed and its cursor in one transaction: a cut sync resumes where it stopped."""
    with engine.begin() as connection:
        for change in changes:
            provider_id = int(change["provider_id"])
            for table in (identifiers, timelines, entries):
                connection.execute(delete(table).where(table.c.provider_id == provider_id))
            if not change["removed"]:
                _insert(connection, [change["entry"]])
        _save_state(connection, new_state)


def _insert(connection: Any, batch: list[dict[str, Any]]) -> None:
    if not batch:
        return
    encode = msgspec.json.encode
    connection.execute(
        insert(timelines),
        [{"provider_id": int(e["provider_id"]), "document": encode(e["timeline"]).decode()} for e in batch],
    )
    connection.execute(
        insert(entries), [{"provider_id": int(e["provider_id"]), "entry": encode(e).decode()} for e in batch]
    )
    rows = [
        {
            "provider_id": int(entry["provider_id"]),
            "scheme": held["scheme"],
            "value": held["value"],
            "normalised": held["normalised"],
            "valid_from": _date(held["valid_from"]),
            "valid_to": _date(held["valid_to"]),
            "origin": MIRRORED_ORIGIN,
        }
        for entry in batch
        for held in entry["identifiers"]
    ]
    if rows:
        connection.execute(insert(identifiers), rows)


def _save_state(connection: Any, new_state: MirrorState) -> None:
    values = {
        "source": new_state.source,
        "issuer": new_state.issuer,
        "position": new_state.position,
        "policy": msgspec.json.encode(new_state.policy).decode(),
        "jwks": msgspec.json.encode(new_state.jwks).decode(),
        "synced_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    connection.execute(delete(state))
    connection.execute(insert(state).values(id=1, **values))


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
