"""Time a CSV import of QA reports (DEQAR's layout) on SQLite, derived state included.

    .venv/bin/python bench/import.py [--reports 10000] [--path /tmp/registry-import-bench.db]

Builds a fresh database (providers inserted in bulk, not timed), writes a CSV of --reports rows with
three institutions and two programmes each, then times `import_results` in one unit of work, commit
(timelines, deadlines, trust list and change feed) included. Prints seconds and rows per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from pathlib import Path

from sqlmodel import Session

from registry import migrations
from registry.agencies.services import add_registration, create_agency
from registry.audit.services import Actor
from registry.db import create_db_engine, session_scope
from registry.reference.services import load_reference
from registry.settings import Settings
from registry.submissions.csv_import import import_results

BENCH = Actor("bench")
HEADER = (
    "agency,local_identifier,activity,status,decision,valid_from,valid_to,"
    "institution[1].deqar_id,institution[2].deqar_id,institution[3].deqar_id,"
    "programme[1].name_primary,programme[1].qf_ehea_level,programme[2].name_primary,programme[2].qf_ehea_level"
)


def build(path: Path, providers: int) -> str:
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        agency = create_agency(session, name="Bench Agency", acronym="BENCH", country="NL", actor=BENCH)
        add_registration(session, agency, registered_from="2000-01-01", actor=BENCH)
        session.commit()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO provider (id, country_iso2, provider_type, confirmed, is_demo, version, created_at, "
            "updated_at) VALUES (?, 'NL', 'public HEI', 1, 0, 1, ?, ?)",
            [(n, now, now) for n in range(1, providers + 1)],
        )
        connection.exec_driver_sql(
            "INSERT INTO provider_name (provider_id, kind, name, folded) VALUES (?, 'official', ?, ?)",
            [(n, f"Bench University {n}", f"bench university {n}") for n in range(1, providers + 1)],
        )
        connection.exec_driver_sql(
            "INSERT INTO provider_identifier (provider_id, scheme, value, normalised, origin, established_at) "
            "VALUES (?, 'deqar', ?, ?, 'agency', ?)",
            [(n, f"DEQARINST{n:05d}", f"DEQARINST{n:05d}", now) for n in range(1, providers + 1)],
        )
    engine.dispose()
    return url


def write_csv(path: Path, reports: int, providers: int) -> None:
    rng = random.Random(15)
    levels = ["first cycle", "second cycle", "third cycle"]
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for n in range(reports):
            start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000))
            ids = [f"DEQARINST{rng.randrange(1, providers + 1):05d}" for _ in range(3)]
            out.write(
                f"BENCH,R-{n},programme review,voluntary,positive,{start},{start + dt.timedelta(days=2000)},"
                f"{','.join(ids)},Programme {n}a,{rng.choice(levels)},Programme {n}b,{rng.choice(levels)}\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--providers", type=int, default=3_000)
    parser.add_argument("--path", type=Path, default=Path("/tmp/registry-import-bench.db"))
    args = parser.parse_args()
    url = build(args.path, args.providers)
    csv_path = args.path.with_suffix(".csv")
    write_csv(csv_path, args.reports, args.providers)
    settings = Settings(database_url=url, var_dir=args.path.parent / "registry-import-bench-var")
    engine = create_db_engine(url)
    data = csv_path.read_bytes()
    started = time.perf_counter()
    with session_scope(engine) as session:
        report = import_results(session, data, agency=_agency(session), settings=settings, actor=BENCH)
    elapsed = time.perf_counter() - started
    print(f"reports={args.reports} csv_bytes={len(data)} outcome={report.counts()}")
    print(f"import_seconds={elapsed:.1f} rows_per_second={args.reports / elapsed:.0f} (SQLite, commit included)")


def _agency(session: Session):  # type: ignore[no-untyped-def]
    from registry.submissions.services import find_agency

    return find_agency(session, "BENCH")


if __name__ == "__main__":
    main()
