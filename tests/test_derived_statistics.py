"""After a large write on PostgreSQL the unit of work refreshes the statistics the derived-state queries plan from."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry import derived
from registry.agencies.services import add_registration, create_agency
from registry.audit.services import Actor
from registry.providers.services import ProviderInput, create_provider
from registry.qa.services import ResultInput, record_result
from tests.conftest import _migrated_engine, _postgres_admin_url

TEST = Actor("test")


@pytest.fixture
def own_engine() -> Iterator[Engine]:
    """A database of its own: the test commits, and reads statistics no other test's writes disturb."""
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable (set REGISTRY_TEST_POSTGRES_URL)")
    name = f"registry_test_stats_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = _migrated_engine(make_url(admin).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _analyzed(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL AND relname = ANY(:names)"),
            {"names": list(derived._ANALYZED)},
        )
        return {name for (name,) in rows}


def _record(session: Session, agency_id: int, provider_id: int, count: int, start: int) -> None:
    for n in range(start, start + count):
        record_result(
            session,
            ResultInput(
                agency_id=agency_id,
                provider_ids=[provider_id],
                activity_type="institutional",
                status="voluntary",
                decision="positive",
                valid_from=dt.date(2015, 1, 1) + dt.timedelta(days=n),
                valid_to=dt.date(2021, 1, 1) + dt.timedelta(days=n),
            ),
            TEST,
        )


def test_a_large_commit_analyzes_the_grown_tables_and_a_small_one_does_not(own_engine: Engine) -> None:
    with Session(own_engine) as session:
        agency = create_agency(session, name="Stats Agency", acronym="STA", country="NL", actor=TEST)
        add_registration(session, agency, registered_from=dt.date(2000, 1, 1), actor=TEST)
        provider = create_provider(
            session, ProviderInput(name="Stats University", country="NL", provider_type="public HEI"), TEST
        )
        session.commit()
        agency_id, provider_id = agency.id or 0, provider.id or 0
    with Session(own_engine) as session:
        _record(session, agency_id, provider_id, 20, 0)
        session.commit()
    assert _analyzed(own_engine) == set()
    with Session(own_engine) as session:
        _record(session, agency_id, provider_id, derived.ANALYZE_AFTER_RESULTS, 20)
        session.commit()
    # Every table that grew (no programmes were recorded: that one is still empty).
    assert _analyzed(own_engine) == {"qa_result", "qa_result_provider", "review_deadline", "trust_timeline"}
    with Session(own_engine) as session:
        assert (
            session.execute(text("SELECT count(*) FROM review_deadline WHERE kind = 'result_expiry'")).scalar_one()
            == 20 + derived.ANALYZE_AFTER_RESULTS
        )


def test_a_large_rolled_back_transaction_analyzes_nothing(own_engine: Engine) -> None:
    with Session(own_engine) as session:
        agency = create_agency(session, name="Stats Agency", acronym="STA", country="NL", actor=TEST)
        add_registration(session, agency, registered_from=dt.date(2000, 1, 1), actor=TEST)
        provider = create_provider(
            session, ProviderInput(name="Stats University", country="NL", provider_type="public HEI"), TEST
        )
        session.commit()
        _record(session, agency.id or 0, provider.id or 0, derived.ANALYZE_AFTER_RESULTS, 0)
        derived.settle(session)
        session.rollback()
    assert _analyzed(own_engine) == set()
