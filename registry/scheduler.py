"""The scheduler of the periodic jobs: the deadline sweep, the outbox deliverer, and import housekeeping.

`registry serve` runs it in the one worker that holds the leader lock (registry/leader.py), whatever
the number of workers; `registry scheduler` is the separate-process alternative and takes part in the
same election. Either way the jobs claim their work in the database, so a second scheduler (during a
takeover, a rolling restart) never sends anything twice.
"""

from __future__ import annotations

import datetime as dt

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from registry.deadlines import jobs as deadline_jobs
from registry.leader import SchedulerLeader, leader_lock
from registry.mail import jobs as mail_jobs
from registry.settings import Settings
from registry.submissions import housekeeping
from registry.timeutil import utcnow

# The first runs wait a little so that a starting web server answers requests first.
FIRST_RUN_DELAY = dt.timedelta(seconds=10)
HOUSEKEEPING_INTERVAL = dt.timedelta(hours=1)


def build_scheduler(
    settings: Settings, engine: Engine, scheduler_class: type[BaseScheduler] = BackgroundScheduler
) -> BaseScheduler:
    scheduler = scheduler_class(
        timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    )
    interval = dt.timedelta(minutes=settings.sweep_interval_minutes)
    first = utcnow() + min(FIRST_RUN_DELAY, interval)
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
        next_run_time=first + min(dt.timedelta(seconds=30), interval / 2),
    )
    scheduler.add_job(
        housekeeping.prune,
        "interval",
        args=[settings],
        id="import-files-prune",
        seconds=HOUSEKEEPING_INTERVAL.total_seconds(),
        next_run_time=first + dt.timedelta(seconds=60),
    )
    return scheduler


def scheduler_leader(settings: Settings, engine: Engine) -> SchedulerLeader:
    """The periodic jobs, run by whichever process of this database holds the leader lock."""
    return SchedulerLeader(
        leader_lock(engine, settings.database_connect_timeout),
        lambda: build_scheduler(settings, engine),
        settings.scheduler_takeover_seconds,
    )
