"""Time an import of QA reports (DEQAR's layout), derived state included, and print peak memory.

    .venv/bin/python bench/import.py [--reports 10000] [--database sqlite|postgresql] [--via csv|json]
                                     [--mode row-by-row|all-or-nothing] [--providers 3000 | --scale-providers]

Builds a fresh database (providers inserted in bulk, not timed) and a CSV of --reports rows with three
institutions and two programmes each, then times one of:

- csv: `import_results` reading the file as a stream (as `registry import results` does), commit
  (timelines, deadlines, trust list and change feed) included;
- json: the same reports POSTed to /api/v1/submissions/results in batches of 500 through the real app
  (Litestar's in-process client, a bearer token of the agency), each batch its own transaction.

Prints seconds, rows per second, the target and the process's peak RSS (run one measurement per
process: the peak is the process's), for CSV also the peak before the last commit (all-or-nothing: the
rows read and written, before the derived state of every touched provider is settled). The providers'
number (--providers, or --scale-providers for 3 per 10 reports) sets how many results each one holds,
which is what the settling at commit grows with. PostgreSQL: --postgres-url names a server whose `postgres`
database may create and drop the database `registry_import_bench`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry import migrations
from registry.agencies.services import add_registration, create_agency
from registry.audit.services import Actor
from registry.db import create_db_engine, session_scope
from registry.providers.models import Provider, ProviderIdentifier, ProviderName
from registry.reference.services import load_reference
from registry.settings import Settings
from registry.submissions import tokens
from registry.submissions.csv_import import import_results

BENCH = Actor("bench")
TARGETS = {"sqlite": 60.0, "postgresql": 90.0}  # seconds for 10,000 reports (issue 15)
BATCH = 500
HEADER = (
    "agency,local_identifier,activity,status,decision,valid_from,valid_to,"
    "institution[1].deqar_id,institution[2].deqar_id,institution[3].deqar_id,"
    "programme[1].name_primary,programme[1].qf_ehea_level,programme[2].name_primary,programme[2].qf_ehea_level"
)


def database_url(args: argparse.Namespace) -> str:
    if args.database == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{args.path}"
    admin = make_url(args.postgres_url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute('DROP DATABASE IF EXISTS "registry_import_bench" WITH (FORCE)')
        connection.execute('CREATE DATABASE "registry_import_bench"')
    return make_url(args.postgres_url).set(database="registry_import_bench").render_as_string(hide_password=False)


def build(url: str, providers: int) -> str:
    """The database with the bench agency and its providers; returns an API token's secret."""
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        agency = create_agency(session, name="Bench Agency", acronym="BENCH", country="NL", actor=BENCH)
        add_registration(session, agency, registered_from="2000-01-01", actor=BENCH)
        _token, secret = tokens.create_token(
            session, agency_id=agency.id or 0, name="bench", expires_on=dt.date.today() + dt.timedelta(days=30),
            scopes=["results:submit"], actor=BENCH,
        )  # fmt: skip
        session.commit()
    now = dt.datetime.now(dt.UTC)
    numbers = range(1, providers + 1)
    with engine.begin() as connection:
        connection.execute(
            Provider.__table__.insert(),  # type: ignore[attr-defined]
            [{"id": n, "country_iso2": "NL", "provider_type": "public HEI", "confirmed": True, "is_demo": False,
              "version": 1, "created_at": now, "updated_at": now} for n in numbers],
        )  # fmt: skip
        connection.execute(
            ProviderName.__table__.insert(),  # type: ignore[attr-defined]
            [{"provider_id": n, "kind": "official", "name": f"Bench University {n}", "folded": f"bench university {n}"}
             for n in numbers],
        )  # fmt: skip
        connection.execute(
            ProviderIdentifier.__table__.insert(),  # type: ignore[attr-defined]
            [{"provider_id": n, "scheme": "deqar", "value": f"DEQARINST{n:05d}", "normalised": f"DEQARINST{n:05d}",
              "origin": "agency", "established_at": now} for n in numbers],
        )  # fmt: skip
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT setval(pg_get_serial_sequence('provider', 'id'), :n)"), {"n": providers})
    engine.dispose()
    return secret


def reports(count: int, providers: int) -> Iterator[dict[str, Any]]:
    """The bench's reports as the JSON API takes them; the CSV holds the same."""
    rng = random.Random(15)
    levels = ["first cycle", "second cycle", "third cycle"]
    for n in range(count):
        start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        ids = [f"DEQARINST{rng.randrange(1, providers + 1):05d}" for _ in range(3)]
        yield {
            "agency": "BENCH",
            "local_identifier": f"R-{n}",
            "activity": "programme review",
            "status": "voluntary",
            "decision": "positive",
            "valid_from": start.isoformat(),
            "valid_to": (start + dt.timedelta(days=2000)).isoformat(),
            "institutions": [{"deqar_id": i} for i in ids],
            "programmes": [
                {"name_primary": f"Programme {n}a", "qf_ehea_level": rng.choice(levels)},
                {"name_primary": f"Programme {n}b", "qf_ehea_level": rng.choice(levels)},
            ],
        }


def write_csv(path: Path, count: int, providers: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for r in reports(count, providers):
            ids = ",".join(i["deqar_id"] for i in r["institutions"])
            p = r["programmes"]
            out.write(
                f"{r['agency']},{r['local_identifier']},{r['activity']},{r['status']},{r['decision']},"
                f"{r['valid_from']},{r['valid_to']},{ids},{p[0]['name_primary']},{p[0]['qf_ehea_level']},"
                f"{p[1]['name_primary']},{p[1]['qf_ehea_level']}\n"
            )


def run_csv(url: str, settings: Settings, csv_path: Path, mode: str, whole_file: bool) -> dict[str, int]:
    engine = create_db_engine(url)
    with session_scope(engine) as session, csv_path.open("rb") as stream:
        data = stream.read() if whole_file else stream
        with import_results(
            session, data, agency=_agency(session), settings=settings, actor=BENCH, mode=mode
        ) as report:
            counts = report.counts()
        # The rows are read and written; all-or-nothing settles the derived state at the commit that follows.
        counts["peak_rss_mb_before_last_commit"] = _peak_rss_mb()
    engine.dispose()
    return counts


def _peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run_json(url: str, settings: Settings, secret: str, count: int, providers: int) -> dict[str, int]:
    from litestar.testing import TestClient

    from registry.app import create_app

    engine = create_db_engine(url)
    counts: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    with TestClient(create_app(settings, bind=engine)) as client:
        batch: list[dict[str, Any]] = []
        for report in reports(count, providers):
            batch.append(report)
            if len(batch) == BATCH:
                _post(client, headers, batch, counts)
                batch = []
        if batch:
            _post(client, headers, batch, counts)
    engine.dispose()
    return counts


def _post(client: Any, headers: dict[str, str], batch: list[dict[str, Any]], counts: dict[str, int]) -> None:
    answer = client.post("/api/v1/submissions/results", content=json.dumps(batch), headers=headers)
    if answer.status_code != 200:
        raise SystemExit(f"the API answered {answer.status_code}: {answer.text[:500]}")
    for outcome in answer.json()["reports"]:
        counts[outcome["submission_status"]] = counts.get(outcome["submission_status"], 0) + 1


def _agency(session: Session):  # type: ignore[no-untyped-def]
    from registry.submissions.services import find_agency

    return find_agency(session, "BENCH")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--providers", type=int, default=3_000)
    parser.add_argument(
        "--scale-providers",
        action="store_true",
        help="3 providers per 10 reports (3,000 for 10,000), so each provider holds as many results at any --reports",
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--via", choices=("csv", "json"), default="csv")
    parser.add_argument("--mode", choices=("row-by-row", "all-or-nothing"), default="row-by-row")
    parser.add_argument("--whole-file", action="store_true", help="pass the CSV as bytes (as before streaming)")
    parser.add_argument("--path", type=Path, default=Path("/tmp/registry-import-bench.db"))
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if args.scale_providers:
        args.providers = max(args.reports * 3 // 10, 1)
    url = database_url(args)
    secret = build(url, args.providers)
    csv_path = args.path.with_suffix(".csv")
    write_csv(csv_path, args.reports, args.providers)
    settings = Settings(
        database_url=url, var_dir=args.path.parent / "registry-import-bench-var", secret_key="bench-secret-key"
    )
    rss_before = _peak_rss_mb()
    cpu = time.process_time()
    started = time.perf_counter()
    if args.via == "csv":
        counts = run_csv(url, settings, csv_path, args.mode, args.whole_file)
        how = f"CSV {args.mode}, " + ("read whole" if args.whole_file else "streamed from the file")
    else:
        counts = run_json(url, settings, secret, args.reports, args.providers)
        how = f"JSON batches of {BATCH} through the app"
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = _peak_rss_mb()
    target = TARGETS[args.database] * args.reports / 10_000
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    before_commit = counts.pop("peak_rss_mb_before_last_commit", None)
    print(
        f"reports={args.reports} providers={args.providers} csv_bytes={csv_path.stat().st_size} outcome={counts} "
        f"({how}, {args.database})"
    )
    print(
        f"import_seconds={elapsed:.1f} cpu_seconds={cpu:.1f} rows_per_second={args.reports / elapsed:.0f} "
        f"target_seconds={target:.0f} ({'met' if elapsed < target else 'NOT met'}; commit included)"
    )
    rows_peak = "" if before_commit is None else f", before the last commit: {before_commit}"
    print(f"peak_rss_mb={peak} (before the import: {rss_before}{rows_peak}) load_average={load}")


if __name__ == "__main__":
    main()
