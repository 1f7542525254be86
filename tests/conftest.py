"""Test databases are built by running the migrations; each test runs in a transaction rolled back after it.

Every database test runs on SQLite and on PostgreSQL. PostgreSQL comes from REGISTRY_TEST_POSTGRES_URL
(default: the local server's `test` database); each run works in a fresh database of its own. Where
PostgreSQL is absent those tests skip, except under REGISTRY_TEST_REQUIRE_ALL=1 (CI), where they fail.
"""

from __future__ import annotations

import email
import email.policy
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry import migrations
from registry.db import create_db_engine
from registry.reference.services import load_reference
from registry.settings import Settings

POSTGRES_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_ALL = os.environ.get("REGISTRY_TEST_REQUIRE_ALL") == "1"


def _postgres_admin_url() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return POSTGRES_URL
    except psycopg.OperationalError as error:
        if REQUIRE_ALL:
            pytest.fail(f"PostgreSQL is required here but unreachable at {POSTGRES_URL}: {error}")
        return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable (set REGISTRY_TEST_POSTGRES_URL)")
    name = f"registry_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrated_engine(url: str) -> Engine:
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        session.commit()
    return engine


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = _migrated_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection per test, inside a transaction that is rolled back afterwards."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        var_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key",
        base_url="http://registry.test",
    )


@pytest.fixture
def app(settings: Settings, connection: Connection):  # type: ignore[no-untyped-def]
    from registry.app import create_app

    return create_app(settings, bind=connection)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from litestar.testing import TestClient

    with TestClient(app, base_url="http://registry.test") as client:
        yield client


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[str] = []
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.recipients += envelope.rcpt_tos
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port(ports: range = range(8200, 8300)) -> int:
    """A free loopback port in the given range (SMTP sinks 8200-8299, live servers 8300-8399)."""
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP sink on a free port, not yet started: tests start it (and may stop it) themselves."""
    sink = SmtpSink(free_port())
    yield sink
    sink.stop()


PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def password_hash() -> str:
    from argon2 import PasswordHasher

    # argon2id is slow on purpose and every web test signs someone in: tests use cheap parameters,
    # which verification reads from the hash itself.
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@pytest.fixture
def world(session: Session, password_hash: str):  # type: ignore[no-untyped-def]
    """Two agencies, two providers (one reviewed by agency A), one account per role."""
    from tests.factories import build_world

    return build_world(session, password_hash)


def sign_in(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Sign in through the real form, CSRF token included."""
    client.get("/signin")
    token = client.cookies.get("registry_csrf")
    return client.post(
        "/signin",
        data={"email": email, "password": password, "next": "/staff", "_csrf_token": token},
        follow_redirects=False,
    )


def post_form(client, path: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    if client.cookies.get("registry_csrf") is None:
        client.get("/signin")
    return client.post(
        path, data={**data, "_csrf_token": client.cookies.get("registry_csrf")}, follow_redirects=False, **kwargs
    )
