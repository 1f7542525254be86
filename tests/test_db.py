"""Units of work on the embedded SQLite database under concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from registry.db import create_db_engine, session_scope
from registry.web import Database


def test_a_unit_of_work_that_reads_then_writes_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    # The sign-in that failed beside the deadline sweep: read a row, another writer commits, then
    # write. Begun deferred, the write fails at once with "database is locked"; begun IMMEDIATE,
    # the other writer waits and both land.
    engine = create_db_engine(f"sqlite:///{tmp_path / 'units.db'}")
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO counter VALUES ('sign-in', 0), ('sweep', 0)"))
    database = Database(engine)
    has_read = threading.Event()
    errors: list[BaseException] = []

    def concurrent_writer() -> None:
        has_read.wait(5)
        try:
            with session_scope(engine) as session:
                session.execute(text("UPDATE counter SET value = value + 1 WHERE name = 'sweep'"))
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            errors.append(error)

    writer = threading.Thread(target=concurrent_writer)
    writer.start()
    with database.write() as session:
        value = session.execute(text("SELECT value FROM counter WHERE name = 'sign-in'")).scalar_one()
        has_read.set()
        writer.join(0.5)  # without the write lock taken at BEGIN, the other writer commits here
        session.execute(text("UPDATE counter SET value = :value WHERE name = 'sign-in'"), {"value": value + 1})
    writer.join(10)

    assert not writer.is_alive() and errors == []
    with database.read() as session:
        rows = dict(session.execute(text("SELECT name, value FROM counter")).all())
    assert rows == {"sign-in": 1, "sweep": 1}
    engine.dispose()
