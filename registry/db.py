"""Engine and sessions, with the SQLite and PostgreSQL specifics in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import msgspec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry.settings import Settings


class UnitsOfWork(Protocol):
    """Read sessions and write units of work, for services that must not hold one open while they wait
    on the network (registry.web.Database is one)."""

    def read(self) -> AbstractContextManager[Session]: ...

    def write(self) -> AbstractContextManager[Session]: ...


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Timeouts:
    """How long the database may keep a request waiting, in seconds; None waits without limit.

    Migrations and commands run without them; the service (get_engine) sets them from the settings.
    """

    statement: float | None = None
    lock: float | None = None
    connect: int | None = None


def sqlite_file(url: str) -> str | None:
    """The SQLite database file a URL names, also in SQLite's URI form (file:PATH?mode=ro&uri=true)."""
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:":
        return None
    if parsed.query.get("uri") in ("true", "1") and database.startswith("file:"):
        return database.removeprefix("file:").split("?", 1)[0] or None
    return database


def _configure_sqlite(dbapi_connection: Any, _record: Any, busy_ms: int = 5000) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that SAVEPOINTs
    # and rollbacks behave (SQLAlchemy's documented pysqlite recipe, with _begin_sqlite).
    dbapi_connection.isolation_level = None
    # A service needs concurrent readers, enforced foreign keys and waiting, not failing, on locks.
    cursor = dbapi_connection.cursor()
    # 8 KiB pages hold a typical trust timeline row (about 2 kB of JSON) with less space left over
    # than 4 KiB ones: about a tenth less file. It only applies to a new, empty database.
    cursor.execute("PRAGMA page_size=8192")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# A unit of work on SQLite takes the write lock when it begins. A deferred transaction that reads
# and then writes fails at once ("database is locked", no busy wait) if another writer committed
# after its read began; begun IMMEDIATE, it waits its turn instead.
WRITE_OPTIONS = {"sqlite_begin": "IMMEDIATE"}


def _begin_sqlite(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def begin_write(session: Session) -> None:
    """Begin the session's transaction as a writer (IMMEDIATE on SQLite, a plain BEGIN elsewhere)."""
    session.connection(execution_options=WRITE_OPTIONS)


_encode_json = msgspec.json.Encoder().encode


def json_text(value: Any) -> str:
    """JSON columns' text: compact (no spaces after separators) and UTF-8, which keeps every row a little smaller."""
    return _encode_json(value).decode()


def create_db_engine(database_url: str, timeouts: Timeouts = Timeouts()) -> Engine:
    url = normalise_database_url(database_url)
    if url.startswith("sqlite"):
        database = sqlite_file(url)
        if database:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite has no statement timeout; its lock wait is the busy timeout.
        lock = timeouts.lock if timeouts.lock is not None else 5.0
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": lock}, json_serializer=json_text
        )
        event.listen(engine, "connect", partial(_configure_sqlite, busy_ms=int(lock * 1000)))
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    connect_args: dict[str, Any] = {}
    options = []
    if timeouts.statement is not None:
        options.append(f"-c statement_timeout={int(timeouts.statement * 1000)}")
    if timeouts.lock is not None:
        options.append(f"-c lock_timeout={int(timeouts.lock * 1000)}")
    if options:
        connect_args["options"] = " ".join(options)
    if timeouts.connect is not None:
        connect_args["connect_timeout"] = timeouts.connect
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        # A request waits for a pooled connection no longer than it would for the database itself.
        pool_timeout=timeouts.statement or 30,
        connect_args=connect_args,
        json_serializer=json_text,
    )


def service_timeouts(settings: Settings) -> Timeouts:
    return Timeouts(
        statement=settings.database_statement_timeout or None,
        lock=settings.database_lock_timeout or None,
        connect=settings.database_connect_timeout or None,
    )


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings) -> Engine:
    engine = _engines.get(settings.database_url)
    if engine is None:
        engine = _engines[settings.database_url] = create_db_engine(settings.database_url, service_timeouts(settings))
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: committed when the block ends normally, rolled back otherwise."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            begin_write(session)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT on the session's database (SQLite and PostgreSQL both have it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
