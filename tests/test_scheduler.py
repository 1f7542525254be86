from __future__ import annotations

import dataclasses
import datetime as dt

from litestar.testing import TestClient
from sqlalchemy import Connection, Engine

from registry.app import create_app
from registry.scheduler import build_scheduler
from registry.settings import Settings


class TestScheduler:
    def test_sweep_and_delivery_run_at_the_configured_interval(self, settings: Settings, engine: Engine) -> None:
        jobs = build_scheduler(dataclasses.replace(settings, sweep_interval_minutes=5), engine)
        intervals = {job.id: job.trigger.interval for job in jobs.get_jobs()}
        assert intervals == {"deadlines-sweep": dt.timedelta(minutes=5), "outbox-delivery": dt.timedelta(minutes=5)}

    def test_the_app_starts_and_stops_its_scheduler_only_when_asked(
        self, settings: Settings, connection: Connection
    ) -> None:
        embedded = create_app(dataclasses.replace(settings, scheduler_in_process=True), bind=connection)
        with TestClient(embedded):
            assert embedded.state.scheduler.running
        assert not embedded.state.scheduler.running
        assert create_app(settings, bind=connection).state.scheduler is None

    def test_in_process_scheduling_defaults_on_for_sqlite_only(self) -> None:
        assert Settings.from_env({"REGISTRY_DATABASE_URL": "sqlite:////tmp/r.db"}).scheduler_in_process
        assert not Settings.from_env({"REGISTRY_DATABASE_URL": "postgresql://db/registry"}).scheduler_in_process
        # Several SQLite workers would each deliver the same outbox: none of them schedules by default.
        assert not Settings.from_env(
            {"REGISTRY_DATABASE_URL": "sqlite:////tmp/r.db", "REGISTRY_WORKERS": "2"}
        ).scheduler_in_process
        assert not Settings.from_env(
            {"REGISTRY_DATABASE_URL": "sqlite:////tmp/r.db", "REGISTRY_SCHEDULER_IN_PROCESS": "false"}
        ).scheduler_in_process
