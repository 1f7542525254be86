"""Two schedulers at once, on PostgreSQL: every reminder and every e-mail exists exactly once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from registry import migrations
from registry.accounts.services import create_user
from registry.agencies.services import add_registration, create_agency
from registry.db import create_db_engine, session_scope
from registry.deadlines.models import DeadlineReminder
from registry.deadlines.sweep import run_sweep
from registry.mail.delivery import deliver_due
from registry.mail.models import OutboxMessage
from registry.providers.services import ProviderInput, create_provider
from registry.qa.services import ResultInput, record_result
from registry.reference.services import load_reference
from registry.settings import Settings
from registry.web import Database
from tests.conftest import SmtpSink, _postgres_admin_url
from tests.deadlines.conftest import TEST, TODAY, days

RESULTS = 40


@pytest.fixture
def committed_postgres() -> Iterator[str]:
    """A database of its own: these sweeps commit, which a rolled-back test transaction cannot undo."""
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable (set REGISTRY_TEST_POSTGRES_URL)")
    name = f"registry_sweep_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _registry_with_deadlines(engine: Engine) -> None:
    with session_scope(engine) as session:
        load_reference(session)
        agency = create_agency(session, name="Race Agency", acronym="RACE", country="NL", actor=TEST)
        add_registration(session, agency, registered_from=days(-5000), actor=TEST)
        provider = create_provider(
            session, ProviderInput(name="Race University", country="NL", provider_type="public HEI"), TEST
        )
        for role, extra in (
            ("provider staff", {"provider_id": provider.id}),
            ("agency editor", {"agency_id": agency.id}),
        ):
            create_user(
                session,
                email=f"{role.split()[0]}@race.test",
                display_name=role,
                password=None,
                role=role,
                actor=TEST,
                **extra,
            )
        for number in range(RESULTS):
            # Due days spread over every reminder window and the missed notice.
            record_result(
                session,
                ResultInput(
                    agency_id=agency.id or 0,
                    provider_ids=[provider.id or 0],
                    activity_type="institutional",
                    status="voluntary",
                    decision="positive",
                    valid_from=days(-1000),
                    valid_to=days(-20 + number * 5),
                    local_id=f"race-{number}",
                ),
                TEST,
            )


def _run_together(engines: list[Engine], work: Callable[[Session], Any]) -> list[Any]:
    barrier = threading.Barrier(len(engines))
    outcomes: list[Any] = []
    failures: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            barrier.wait(timeout=30)
            with session_scope(engine) as session:
                outcomes.append(work(session))
        except BaseException as error:  # noqa: BLE001 (re-raised in the test thread)
            failures.append(error)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    return outcomes


@pytest.mark.postgres
class TestTwoSchedulers:
    def test_concurrent_sweeps_claim_each_reminder_once_and_deliverers_send_each_message_once(
        self, committed_postgres: str, smtp_sink: SmtpSink
    ) -> None:
        setup = create_db_engine(committed_postgres)
        _registry_with_deadlines(setup)
        engines = [create_db_engine(committed_postgres) for _ in range(2)]
        settings = Settings(database_url=committed_postgres, base_url="http://registry.test")
        try:
            reports = _run_together(engines, lambda session: run_sweep(session, TODAY, settings))
            with Session(setup) as session:
                claims = session.execute(
                    select(col(DeadlineReminder.deadline_id), col(DeadlineReminder.offset_days))
                ).all()
                queued = session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
            # Due days from -20 to +175 in steps of 5: 4 missed notices (-20..-5) and 36 reminders.
            assert len(claims) == RESULTS
            assert Counter(claims).most_common(1)[0][1] == 1
            assert sorted(report.reminders for report in reports) == [0, RESULTS]
            assert queued == 2 * RESULTS  # staff and editor, once each

            smtp_sink.start()
            mailing = Settings(
                database_url=committed_postgres,
                base_url="http://registry.test",
                smtp_host="127.0.0.1",
                smtp_port=smtp_sink.port,
            )

            def drain(engine: Engine) -> None:
                barrier.wait(timeout=30)
                delivered.append(deliver_due(Database(engine), mailing, batch=7).sent)

            barrier = threading.Barrier(len(engines))
            delivered: list[int] = []
            threads = [threading.Thread(target=drain, args=(engine,)) for engine in engines]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            ids = Counter(message["Message-ID"] for message in smtp_sink.messages)
            assert sum(delivered) == 2 * RESULTS
            assert len(ids) == 2 * RESULTS and max(ids.values()) == 1
        finally:
            for engine in [setup, *engines]:
                engine.dispose()
