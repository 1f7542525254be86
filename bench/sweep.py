"""Time the deadline sweep over 1,000,000 QA results on SQLite.

    .venv/bin/python bench/sweep.py [--results 1000000] [--stale 1000] [--path /tmp/registry-sweep-bench.db]

Builds a fresh database with Core bulk inserts (not part of the sweep's time), derives the
deadlines with the set-based sync_all, stores --stale current verdicts due for re-evaluation today
(about a day's changes for 100,000 providers), then times run_sweep: the runs of the first day (every
reminder window's backlog at once, drained MAX_REMINDERS per run), a re-run the same day (all
claimed: must send nothing), and the next day's run. Prints seconds; the target is under 10 s per
sweep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from registry import migrations
from registry.db import create_db_engine
from registry.deadlines.models import DeadlineReminder, ReviewDeadline
from registry.deadlines.services import sync_all
from registry.deadlines.sweep import SweepReport, run_sweep
from registry.mail.models import OutboxMessage
from registry.providers.models import Provider
from registry.reference.services import load_reference
from registry.settings import Settings
from registry.timeutil import today
from registry.trust.timeline import build_document

PROVIDERS_PER_AGENCY = 10_000
AGENCIES = 10
CHUNK = 50_000


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def build(path: Path, results: int, stale: int) -> Settings:
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        session.commit()
    rng = random.Random(6)
    day = today()
    now = _stamp()
    providers = AGENCIES * PROVIDERS_PER_AGENCY
    with engine.begin() as connection:
        base_agency = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM agency").scalar_one()
        connection.exec_driver_sql(
            "INSERT INTO agency (id, name, acronym, country_iso2, activities, is_demo, version, created_at) "
            "VALUES (?, ?, ?, 'NL', '[]', 0, 1, ?)",
            [(base_agency + n, f"Bench Agency {n}", f"BA{n}", now) for n in range(1, AGENCIES + 1)],
        )
        connection.exec_driver_sql(
            "INSERT INTO agency_registration (agency_id, registered_from, registered_to, decision, source) "
            "VALUES (?, '2000-01-01', ?, 'registered', 'bench')",
            [(base_agency + n, (day + dt.timedelta(days=20 * n)).isoformat()) for n in range(1, AGENCIES + 1)],
        )
        connection.exec_driver_sql(
            "INSERT INTO provider (id, country_iso2, provider_type, confirmed, is_demo, version, created_at, "
            "updated_at) VALUES (?, 'NL', 'public HEI', 1, 0, 1, ?, ?)",
            [(n, now, now) for n in range(1, providers + 1)],
        )
        connection.exec_driver_sql(
            "INSERT INTO provider_name (provider_id, kind, name, folded) VALUES (?, 'official', ?, ?)",
            [(n, f"Bench University {n}", f"bench university {n}") for n in range(1, providers + 1)],
        )
        # Recipients: two operators, an editor per agency, staff at one provider in a hundred.
        users = [("operator", None, None), ("operator", None, None)]
        users += [("agency editor", base_agency + n, None) for n in range(1, AGENCIES + 1)]
        users += [("provider staff", None, n) for n in range(1, providers + 1, 100)]
        for number, (role, agency_id, provider_id) in enumerate(users, start=1):
            connection.exec_driver_sql(
                "INSERT INTO user (id, email, display_name, is_active, created_at) VALUES (?, ?, 'Bench', 1, ?)",
                (number, f"user{number}@bench.test", now),
            )
            connection.exec_driver_sql(
                "INSERT INTO role_membership (user_id, role, agency_id, provider_id) VALUES (?, ?, ?, ?)",
                (number, role, agency_id, provider_id),
            )
        for start in range(1, results + 1, CHUNK):
            rows, links = [], []
            for result_id in range(start, min(start + CHUNK, results + 1)):
                provider_id = (result_id - 1) % providers + 1
                valid_to = day + dt.timedelta(days=rng.randint(-400, 2190))
                conditions = rng.random() < 0.1
                rows.append(
                    (
                        result_id,
                        base_agency + (provider_id - 1) // PROVIDERS_PER_AGENCY + 1,
                        "positive with conditions or restrictions" if conditions else "positive",
                        (valid_to - dt.timedelta(days=2190)).isoformat(),
                        valid_to.isoformat(),
                        (day + dt.timedelta(days=rng.randint(-60, 400))).isoformat() if conditions else None,
                        now,
                        now,
                    )
                )
                links.append((result_id, provider_id))
            connection.exec_driver_sql(
                "INSERT INTO qa_result (id, agency_id, activity_type, status, decision, valid_from, valid_to, "
                "conditions_due, limit_eqf_levels, limit_fields, limit_jurisdictions, report_links, is_demo, "
                "version, created_at, updated_at) VALUES (?, ?, 'institutional', 'voluntary', ?, ?, ?, ?, "
                "'[]', '[]', '[]', '[]', 0, 1, ?, ?)",
                rows,
            )
            connection.exec_driver_sql("INSERT INTO qa_result_provider (result_id, provider_id) VALUES (?, ?)", links)
    _stale_timelines(engine, day, stale)
    engine.dispose()
    return Settings(database_url=url, base_url="https://registry.bench")


def _stale_timelines(engine: Engine, day: dt.date, count: int) -> None:
    """Stored verdicts whose day has come, so the sweep re-evaluates them and records each change.

    Building real timelines takes long; re-evaluating copies of one costs the sweep the same.
    """
    with Session(engine) as session:
        provider = session.get(Provider, 1)
        assert provider is not None
        document = json.dumps(build_document(session, provider))
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO trust_timeline (provider_id, document, current_status, status_until, updated_at) "
            "VALUES (?, ?, 'unknown', ?, ?)",
            [(n, document, day.isoformat(), _stamp()) for n in range(1, count + 1)],
        )


def timed(label: str, action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    outcome = action()
    print(f"{label}: {time.perf_counter() - started:.2f} s  {outcome}")
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--stale", type=int, default=1_000, help="current verdicts due for re-evaluation today")
    parser.add_argument("--path", type=Path, default=Path("/tmp/registry-sweep-bench.db"))
    args = parser.parse_args()
    started = time.perf_counter()
    settings = build(args.path, args.results, args.stale)
    print(f"bulk insert of {args.results:,} results: {time.perf_counter() - started:.2f} s")
    engine = create_db_engine(settings.database_url)

    def in_transaction(work):  # type: ignore[no-untyped-def]
        with Session(engine) as session:
            outcome = work(session)
            session.commit()
            return outcome

    timed("sync_all (derive every deadline)", lambda: in_transaction(sync_all))
    day = today()

    def sweep(when: dt.date) -> SweepReport:
        return in_transaction(lambda session: run_sweep(session, when, settings))

    # The first run meets every window's backlog at once; runs claim at most MAX_REMINDERS each.
    runs = 1
    while timed(f"run_sweep, first day, run {runs}", lambda: sweep(day)).more:
        runs += 1
    timed("run_sweep, same day again", lambda: sweep(day))
    timed("run_sweep, next day", lambda: sweep(day + dt.timedelta(days=1)))
    with Session(engine) as session:
        counts = {
            "deadlines": session.scalar(select(func.count()).select_from(ReviewDeadline)),
            "reminders": session.scalar(select(func.count()).select_from(DeadlineReminder)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)),
        }
    print("rows:", counts)


if __name__ == "__main__":
    main()
