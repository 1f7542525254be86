from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from litestar.testing import TestClient
from sqlalchemy import Connection, Engine

from registry.app import create_app
from registry.db import create_db_engine
from registry.leader import AdvisoryLock, FileLock, SchedulerLeader, leader_lock, lock_path
from registry.scheduler import build_scheduler
from registry.settings import Settings


class TestScheduler:
    def test_sweep_and_delivery_run_at_the_configured_interval(self, settings: Settings, engine: Engine) -> None:
        jobs = build_scheduler(dataclasses.replace(settings, sweep_interval_minutes=5), engine)
        intervals = {job.id: job.trigger.interval for job in jobs.get_jobs()}
        assert intervals == {
            "deadlines-sweep": dt.timedelta(minutes=5),
            "outbox-delivery": dt.timedelta(minutes=5),
            "import-files-prune": dt.timedelta(hours=1),
        }

    def test_the_app_starts_and_stops_its_scheduler_only_when_asked(
        self, settings: Settings, connection: Connection
    ) -> None:
        embedded = create_app(dataclasses.replace(settings, scheduler_in_process=True), bind=connection)
        with TestClient(embedded):
            _wait_until(lambda: embedded.state.scheduler.running)
            # A second app on the same database (another worker) stands by while the first leads.
            second = create_app(dataclasses.replace(settings, scheduler_in_process=True), bind=connection)
            with TestClient(second):
                time.sleep(0.5)
                assert not second.state.scheduler.running
        assert not embedded.state.scheduler.running
        assert create_app(settings, bind=connection).state.scheduler is None

    def test_in_process_scheduling_defaults_on_whatever_the_database_and_workers(self) -> None:
        # The leader lock lets exactly one process run the jobs, so every deployment may schedule in-process.
        for environ in (
            {"REGISTRY_DATABASE_URL": "sqlite:////tmp/r.db"},
            {"REGISTRY_DATABASE_URL": "postgresql://db/registry"},
            {"REGISTRY_DATABASE_URL": "sqlite:////tmp/r.db", "REGISTRY_WORKERS": "4"},
        ):
            assert Settings.from_env(environ).scheduler_in_process
        assert not Settings.from_env(
            {"REGISTRY_DATABASE_URL": "postgresql://db/registry", "REGISTRY_SCHEDULER_IN_PROCESS": "false"}
        ).scheduler_in_process
        settings = Settings.from_env(
            {"REGISTRY_SWEEP_INTERVAL_MINUTES": "0.5", "REGISTRY_SCHEDULER_TAKEOVER_SECONDS": "2"}
        )
        assert (settings.sweep_interval_minutes, settings.scheduler_takeover_seconds) == (0.5, 2.0)
        for name in ("REGISTRY_SWEEP_INTERVAL_MINUTES", "REGISTRY_SCHEDULER_TAKEOVER_SECONDS"):
            for wrong in ("0", "-1", "inf", "nan"):
                with pytest.raises(ValueError, match="positive"):
                    Settings.from_env({name: wrong})


def _wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _scheduler() -> BackgroundScheduler:
    return BackgroundScheduler()


class TestLeaderLock:
    def test_one_holder_of_a_sqlite_lock_file_until_it_lets_go(self, tmp_path: Path) -> None:
        path = lock_path(str(tmp_path / "registry.db"))
        first, second = FileLock(path), FileLock(path)
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        assert path.read_text() == f"{os.getpid()}\n"
        first.release()
        assert not first.still_held()
        assert second.try_acquire()
        # Someone deletes the lock file: a new one could be locked by another process, so the holder
        # no longer counts itself the leader.
        path.unlink()
        assert not second.still_held()
        assert first.try_acquire() and first.still_held()
        first.release()

    def test_a_process_that_dies_holding_the_lock_file_releases_it(self, tmp_path: Path) -> None:
        path = lock_path(str(tmp_path / "registry.db"))
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time; from pathlib import Path; from registry.leader import FileLock\n"
                "assert FileLock(Path(sys.argv[1])).try_acquire(); print('held', flush=True); time.sleep(60)",
                str(path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            mine = FileLock(path)
            assert not mine.try_acquire()
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            assert mine.try_acquire()
            mine.release()
        finally:
            holder.kill()
            holder.wait()

    @pytest.mark.postgres
    def test_one_holder_of_the_advisory_lock_until_its_connection_ends(self, postgres_url: str) -> None:
        engine = create_db_engine(postgres_url)
        try:
            first, second = AdvisoryLock(engine), AdvisoryLock(engine)
            assert isinstance(leader_lock(engine), AdvisoryLock)
            assert first.try_acquire() and first.still_held()
            assert not second.try_acquire() and not second.still_held()
            # The database ends the holder's session (a crash, a restart, an operator): the lock is free,
            # and the former holder notices at its next check.
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'registry scheduler lock' AND datname = current_database()"
                    " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
                )
            deadline = time.monotonic() + 10
            while not second.try_acquire():
                assert time.monotonic() < deadline, "the advisory lock was not released"
                time.sleep(0.1)
            assert not first.still_held()
            assert not first.try_acquire()
            second.release()
            assert first.try_acquire()
            first.release()
        finally:
            engine.dispose()

    def test_a_standby_takes_over_when_the_leader_stops(self, tmp_path: Path) -> None:
        path = lock_path(str(tmp_path / "registry.db"))
        leader = SchedulerLeader(FileLock(path), _scheduler, retry_seconds=0.1)
        standby = SchedulerLeader(FileLock(path), _scheduler, retry_seconds=0.1)
        leader.start()
        try:
            _wait_until(lambda: leader.running)
            standby.start()
            time.sleep(0.3)
            assert leader.running and not standby.running
            leader.stop()
            assert not leader.running
            _wait_until(lambda: standby.running, 5)
        finally:
            leader.stop()
            standby.stop()
        assert not standby.running
