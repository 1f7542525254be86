"""Migration 0012 deflates the trust list entries already stored, and its downgrade gives the text back."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from registry import migrations
from registry.db import normalise_database_url
from registry.trust.models import TrustListEntry
from tests.conftest import _postgres_admin_url

ENTRIES = {
    1: '{"name":"Université de Genève","provider_id":1,"timeline":{"results":[]}}',
    2: None,
    3: '{"name":"' + "x" * 5000 + '","provider_id":3}',
}


def _before_0012() -> str:
    revision = ScriptDirectory.from_config(migrations.alembic_config("")).get_revision("0012")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('lean') / 'registry.db'}"
        return
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable (set REGISTRY_TEST_POSTGRES_URL)")
    name = f"registry_lean_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine(url: str) -> Engine:
    return create_engine(normalise_database_url(url))


def test_entries_are_deflated_on_upgrade_and_inflated_on_downgrade(fresh_url: str) -> None:
    migrations.upgrade(fresh_url, _before_0012())
    engine = _engine(fresh_url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO country (iso2, iso3, name, ehea_member) VALUES ('CH', 'CHE', 'Switzerland', true)")
        )
        for provider_id, entry in ENTRIES.items():
            connection.execute(
                text(
                    "INSERT INTO provider (id, country_iso2, provider_type, confirmed, is_demo, version, created_at, "
                    "updated_at) VALUES (:id, 'CH', 'university', true, false, 1, '2025-01-01', '2025-01-01')"
                ),
                {"id": provider_id},
            )
            connection.execute(
                text(
                    "INSERT INTO trust_list_entry (provider_id, position, entry, changed_at) "
                    "VALUES (:id, :id, :entry, '2025-01-01')"
                ),
                {"id": provider_id, "entry": entry},
            )
    engine.dispose()

    migrations.upgrade(fresh_url, "0012")
    engine = _engine(fresh_url)
    with Session(engine) as session:
        read = dict(session.execute(select(col(TrustListEntry.provider_id), col(TrustListEntry.entry))).all())
    assert read == ENTRIES
    with engine.connect() as connection:
        stored: dict[int, Any] = {
            row[0]: row[1] for row in connection.execute(text("SELECT provider_id, entry FROM trust_list_entry"))
        }
    assert stored[2] is None
    assert zlib.decompress(bytes(stored[3])).decode() == ENTRIES[3]
    # Deflated, the long repetitive entry takes a small fraction of its text.
    assert len(bytes(stored[3])) < 200
    indexes = {index["name"] for index in inspect(engine).get_indexes("provider_name")}
    assert "ix_provider_name_name" not in indexes and "ix_provider_name_provider_id" in indexes
    engine.dispose()

    command.downgrade(migrations.alembic_config(fresh_url), _before_0012())
    engine = _engine(fresh_url)
    with engine.connect() as connection:
        stored = {row[0]: row[1] for row in connection.execute(text("SELECT provider_id, entry FROM trust_list_entry"))}
        indexes = {index["name"] for index in inspect(connection).get_indexes("provider_name")}
    assert stored == ENTRIES
    assert "ix_provider_name_name" in indexes
    engine.dispose()
