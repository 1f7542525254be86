"""One scheduler per database, whatever the number of workers: the process that holds the leader lock runs it.

Every worker of `registry serve` (and `registry scheduler`, if run) campaigns: the one that takes the lock
starts the periodic jobs, the others try again every REGISTRY_SCHEDULER_TAKEOVER_SECONDS. The lock is
released by the operating system or the database when its holder dies, so a live process takes over
within that time.

- PostgreSQL: a session advisory lock held on a connection of its own; PostgreSQL releases it when the
  connection ends (the process exits or is killed). Advisory locks are per database, so every host that
  serves the same database takes part in one election.
- SQLite: an exclusive flock(2) on a file next to the database (`registry.db.scheduler-lock`), released by
  the kernel when the process that holds it exits. One machine serves a SQLite file, so that is enough.
- An in-memory SQLite database has one process: it leads.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psycopg
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from registry.db import sqlite_file

log = logging.getLogger(__name__)

# pg_try_advisory_lock key: "scheduler" in ASCII; the sweep's transaction lock uses another key.
ADVISORY_KEY = int.from_bytes(b"schedulr", "big") & 0x7FFF_FFFF_FFFF_FFFF


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class FileLock:
    """flock(2) on a file: exclusive between processes (and between two opens in one process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # The holder's pid, for people; the lock itself is the flock, not the file's content.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        """Held, and the file at the path is still the one locked (a deleted or replaced file is not)."""
        if self._fd is None:
            return False
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            self.release()
        return same

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a dedicated connection (never one of the pool's)."""

    def __init__(self, engine: Engine, connect_timeout: int = 5) -> None:
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connect_timeout = connect_timeout
        self._connection: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        try:
            connection = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="registry scheduler lock",
                # A vanished peer is noticed within about a minute rather than hours.
                keepalives=1,
                keepalives_idle=20,
                keepalives_interval=10,
                keepalives_count=3,
            )
        except psycopg.Error as error:
            log.warning("scheduler lock: cannot reach the database: %s", error)
            return False
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        except psycopg.Error as error:
            log.warning("scheduler lock: %s", error)
            connection.close()
            return False
        if not (row and row[0]):
            connection.close()
            return False
        self._connection = connection
        return True

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            # Our own backend still holds the lock (and the connection still works).
            row = self._connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND granted AND ((classid::bigint << 32) | objid::bigint) = %s",
                (ADVISORY_KEY,),
            ).fetchone()
        except psycopg.Error:
            self._drop()
            return False
        if not (row and row[0]):
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            # Closing the connection releases it as well.
            with contextlib.suppress(psycopg.Error):
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class ProcessLock:
    """An in-memory database lives in one process: that process leads."""

    def __init__(self) -> None:
        self._held = False

    def try_acquire(self) -> bool:
        self._held = True
        return True

    def still_held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def lock_path(database_file: str) -> Path:
    return Path(f"{database_file}.scheduler-lock")


def leader_lock(engine: Engine, connect_timeout: int = 5) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, connect_timeout)
    database = sqlite_file(str(engine.url))
    return FileLock(lock_path(database)) if database else ProcessLock()


class SchedulerLeader:
    """Runs the scheduler while this process holds the lock; otherwise stands by and retries."""

    def __init__(self, lock: LeaderLock, make_scheduler: Callable[[], BaseScheduler], retry_seconds: float) -> None:
        self._lock = lock
        self._make_scheduler = make_scheduler
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self.scheduler: BaseScheduler | None = None

    @property
    def running(self) -> bool:
        """True while this process leads and its scheduler runs."""
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> None:
        """Campaign at once, then every retry_seconds, in a daemon thread: start-up never waits on the database."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="scheduler-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._guard:
            self._step_down()

    def _watch(self) -> None:
        while True:
            try:
                self._campaign()
            except Exception:  # noqa: BLE001 - the watcher must outlive one failed attempt
                log.exception("scheduler lock: campaign failed")
            if self._stop.wait(self._retry):
                return

    def _campaign(self) -> None:
        with self._guard:
            if self._stop.is_set():
                return
            if self.scheduler is not None:
                if not self._lock.still_held():
                    log.warning("scheduler lock lost: this process stops its scheduler")
                    self._step_down()
                return
            if self._lock.try_acquire():
                scheduler = self._make_scheduler()
                scheduler.start()
                self.scheduler = scheduler
                log.info("scheduler started: this process (pid %d) runs the periodic jobs", os.getpid())

    def _step_down(self) -> None:
        if self.scheduler is not None:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            self.scheduler = None
            log.info("scheduler stopped in pid %d", os.getpid())
        self._lock.release()
