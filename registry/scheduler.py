"""The scheduler of the periodic jobs: the deadline sweep and the outbox deliverer.

Production runs exactly one `registry scheduler` process; the embedded default starts it inside
`registry serve`. Either way the jobs claim their work in the database, so a second scheduler
(another worker, a rolling restart) never sends anything twice.
"""

from __future__ import annotations

import datetime as dt

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from registry.deadlines import jobs as deadline_jobs
from registry.mail import jobs as mail_jobs
from registry.settings import Settings
from registry.timeutil import utcnow

# The first runs wait a little so that a starting web server answers requests first.
FIRST_RUN_DELAY = dt.timedelta(seconds=10)


def build_scheduler(
    settings: Settings, engine: Engine, scheduler_class: type[BaseScheduler] = BackgroundScheduler
) -> BaseScheduler:
    scheduler = scheduler_class(
        timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    )
    first = utcnow() + FIRST_RUN_DELAY
    interval = dt.timedelta(minutes=settings.sweep_interval_minutes)
    scheduler.add_job(
        deadline_jobs.sweep,
        "interval",
        args=[engine, settings],
        id="deadlines-sweep",
        seconds=interval.total_seconds(),
        next_run_time=first,
    )
    # Delivery follows the sweep so that the reminders it wrote go out in the same round.
    scheduler.add_job(
        mail_jobs.deliver,
        "interval",
        args=[engine, settings],
        id="outbox-delivery",
        seconds=interval.total_seconds(),
        next_run_time=first + dt.timedelta(seconds=30),
    )
    return scheduler
