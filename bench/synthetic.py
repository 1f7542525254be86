"""Synthetic registries for the lookup benchmark, bulk-loaded into a migrated SQLite file.

Rows are generated in worker processes (one per core) and written by one plain sqlite3 connection
with no journal and the secondary indexes dropped until the end. The trust timeline documents and
the trust list entries are assembled with the helpers the application uses (registry.trust.timeline,
registry.trust.feed), so the benchmarks read rows of the real shape, and the change feed is filled
as one commit listing every provider would fill it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from registry import migrations
from registry.agencies.models import Agency, AgencyRegistration
from registry.db import create_db_engine, json_text
from registry.folding import fold
from registry.providers.identifiers import normalise
from registry.providers.models import ProviderIdentifier
from registry.reference.models import Country
from registry.reference.services import load_reference
from registry.settings import get_settings
from registry.timeutil import add_years
from registry.trust import feed
from registry.trust.models import DeflatedText, TrustTimeline
from registry.trust.signing import ensure_key
from registry.trust.timeline import assemble_document, internal_qa_entry, result_entry, status_today
from registry.trust.verdict import Policy
from registry.vocabulary import PROVIDER_TYPES, RESOLVING_ORIGINS

CHUNK = 10_000
# How many identifiers the load generators draw from: more than the lookup's memo of normalised
# identifiers holds, so large registries are not measured on memo hits alone.
SAMPLE = 100_000
ORIGIN = dt.date(2008, 1, 1)

ACTIVITIES = (("institutional", 50), ("programme", 25), ("institutional/programme", 15), ("joint programme", 10))
DECISIONS = (
    ("positive", 70),
    ("positive with conditions or restrictions", 15),
    ("negative", 10),
    ("not applicable", 5),
)
TYPE_WEIGHTS = (35, 25, 8, 8, 8, 12, 4)


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _day(rng: random.Random, first_year: int, last_year: int) -> dt.date:
    start = dt.date(first_year, 1, 1)
    return start + dt.timedelta(days=rng.randrange((dt.date(last_year, 12, 31) - start).days))


def _reference_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=OFF")
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    event.listen(engine, "connect", configure)
    return engine


# Columns as the bulk writer inserts them, in tuple order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "provider": (
        "id", "country_iso2", "provider_type", "website", "founded_on", "closed_on",
        "confirmed", "is_demo", "version", "created_at", "updated_at",
    ),
    "provider_name": ("provider_id", "kind", "name", "folded", "lang"),
    "provider_identifier": (
        "id", "provider_id", "scheme", "value", "normalised", "origin", "established_at",
    ),
    "qa_result": (
        "id", "agency_id", "local_id", "activity_type", "status", "decision", "valid_from", "valid_to",
        "revoked_from", "withdrawn_at", "withdrawn_reason", "conditions_due", "limit_eqf_levels",
        "limit_fields", "limit_jurisdictions", "report_links", "is_demo", "version", "created_at", "updated_at",
    ),
    "qa_result_provider": ("result_id", "provider_id"),
    "qa_result_programme": (
        "id", "result_id", "name", "identifier", "ects", "eqf_level", "isced_field", "full_degree",
    ),
    "provider_suspension": ("provider_id", "suspended_from", "suspended_to", "reason", "created_at"),
    "trust_timeline": ("provider_id", "document", "current_status", "status_until", "updated_at"),
    "trust_list_entry": ("provider_id", "position", "entry", "changed_at"),
}  # fmt: skip
Rows = dict[str, list[tuple[Any, ...]]]
# Trust list entries are stored as the model's column type stores them.
_DEFLATE = DeflatedText().process_bind_param


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


class RegistryBuilder:
    """Generates providers with about 3 identifiers and 3 results each, reproducibly, a chunk at a time.

    Each chunk draws from its own seeded generator and ids are spaced by provider (identifier ids
    3 per provider, result ids 4, programme ids 2 per result), so chunks can be generated in any
    order by any process and the registry is the same. Rows come out as tuples in the shape the
    application stores (ISO dates, SQLAlchemy's datetime text, JSON text), and each provider's
    timeline and trust list entry are assembled with the application's own helpers.
    """

    def __init__(self, context: dict[str, Any], seed: int = 20251) -> None:
        self.seed = seed
        self.countries: list[str] = context["countries"]
        self.agencies: dict[int, Any] = {i: SimpleNamespace(**a) for i, a in context["agencies"].items()}
        self.windows: dict[int, list[tuple[dt.date, dt.date | None]]] = context["windows"]
        self.agency_ids = list(self.agencies)
        settings = get_settings()
        self.policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
        self.rng = random.Random(seed)

    @staticmethod
    def context(connection: Any) -> dict[str, Any]:
        """What generating rows needs from the reference data (plain values, picklable)."""
        windows: dict[int, list[tuple[dt.date, dt.date | None]]] = {}
        registrations = select(
            AgencyRegistration.agency_id, AgencyRegistration.registered_from, AgencyRegistration.registered_to
        ).where(AgencyRegistration.withdrawn_at.is_(None))  # type: ignore[union-attr]
        for row in connection.execute(registrations):
            windows.setdefault(row[0], []).append((row[1], row[2]))
        return {
            "countries": [row[0] for row in connection.execute(select(Country.iso2))],
            "agencies": {
                row.id: {"acronym": row.acronym, "name": row.name}
                for row in connection.execute(select(Agency.id, Agency.acronym, Agency.name))
            },
            "windows": windows,
        }

    def _registered(self, agency_id: int, on: dt.date) -> bool:
        return any(start <= on and (end is None or end >= on) for start, end in self.windows.get(agency_id, ()))

    def chunk(self, index: int, first: int, last: int, now: dt.datetime) -> Rows:
        """Rows for providers first..last (included); the trust list entries' positions are left 0."""
        self.rng = random.Random(f"{self.seed}:{index}")
        rows: Rows = {table: [] for table in COLUMNS}
        stamp = now.replace(tzinfo=None).isoformat(sep=" ")
        for provider_id in range(first, last + 1):
            self._provider(provider_id, now, stamp, rows)
        return rows

    def _provider(self, provider_id: int, now: dt.datetime, stamp: str, rows: Rows) -> None:
        rng = self.rng
        slug = f"p{provider_id}-{rng.randrange(36**4):04x}"
        host = f"{slug}.bench.example"
        closed_on = _day(rng, 2012, 2026) if rng.random() < 0.02 else None
        country = rng.choice(self.countries)
        provider_type = rng.choices(PROVIDER_TYPES, weights=TYPE_WEIGHTS)[0]
        website = f"https://{host}"
        founded_on = _day(rng, 1900, 2020)
        rows["provider"].append(
            (
                provider_id,
                country,
                provider_type,
                website,
                founded_on.isoformat(),
                _iso(closed_on),
                1,
                0,
                1,
                stamp,
                stamp,
            )
        )
        names = {"official": f"Bench Provider {provider_id}"}
        if rng.random() < 0.5:
            names["english"] = f"Bench Provider {provider_id} (English)"
        for kind, name in names.items():
            rows["provider_name"].append((provider_id, kind, name, fold(name), None))
        identifiers = [("did", f"did:web:{host}"), ("url", f"https://{host}/issuer")]
        identifiers.append(rng.choice([("deqar", f"DEQARINST{provider_id:07d}"), ("domain", host)]))
        listed: list[tuple[str, str, int, dict[str, Any]]] = []
        for number, (scheme, value) in enumerate(identifiers):
            # A few identifiers are unproven claims, which never resolve.
            origin = "claimed" if rng.random() < 0.03 else rng.choice(("agency", "imported", "proven"))
            identifier_id = (provider_id - 1) * 3 + number + 1
            normalised = normalise(scheme, value)
            rows["provider_identifier"].append((identifier_id, provider_id, scheme, value, normalised, origin, stamp))
            if origin in RESOLVING_ORIGINS:
                entry = feed.identifier_entry(scheme, value, normalised, None, None)
                listed.append((scheme, normalised, identifier_id, entry))
        suspensions = []
        if rng.random() < 0.01:
            start = _day(rng, 2018, 2026)
            end = start + dt.timedelta(days=rng.randrange(30, 400)) if rng.random() < 0.5 else None
            reason = "Benchmark suspension"
            rows["provider_suspension"].append((provider_id, start.isoformat(), _iso(end), reason, stamp))
            suspensions.append(SimpleNamespace(suspended_from=start, suspended_to=end, reason=reason))
        count = rng.choice((2, 3, 3, 4))
        entries = [self._result((provider_id - 1) * 4 + k + 1, provider_id, stamp, rows) for k in range(count)]
        provider = SimpleNamespace(
            id=provider_id, country_iso2=country, provider_type=provider_type, website=website, closed_on=closed_on
        )
        document = assemble_document(
            provider,  # type: ignore[arg-type]
            names,
            None,
            suspensions,  # type: ignore[arg-type]
            [entry for entry in entries if entry is not None],
            internal_qa_entry([]),
        )
        status, until = status_today(document)
        rows["trust_timeline"].append((provider_id, json_text(document), status, _iso(until), stamp))
        listed.sort(key=lambda item: item[:3])
        text = feed.encode_entry(provider_id, document, [item[3] for item in listed], self.policy)
        if text is not None:
            rows["trust_list_entry"].append((provider_id, 0, _DEFLATE(text, None), stamp))

    def _result(self, result_id: int, provider_id: int, stamp: str, rows: Rows) -> dict | None:
        rng = self.rng
        agency_id = rng.choice(self.agency_ids)
        activity = _weighted(rng, ACTIVITIES)
        decision = _weighted(rng, DECISIONS)
        valid_from = _day(rng, 2010, 2025)
        valid_to = add_years(valid_from, 6)
        with_conditions = decision == "positive with conditions or restrictions"
        withdrawn = rng.random() < 0.01
        status = rng.choice(("part of obligatory external QA system", "voluntary"))
        revoked_from = valid_from + dt.timedelta(days=rng.randrange(200, 2000)) if rng.random() < 0.02 else None
        conditions_due = valid_from + dt.timedelta(days=rng.randrange(180, 720)) if with_conditions else None
        eqf_levels = sorted(rng.sample((5, 6, 7, 8), rng.randrange(1, 4))) if rng.random() < 0.2 else []
        fields = [f"{rng.randrange(1, 11):02d}"] if rng.random() < 0.1 else []
        report_links = [f"https://reports.bench.example/{result_id}.pdf"]
        rows["qa_result"].append(
            (
                result_id, agency_id, f"R{result_id}", activity, status, decision, valid_from.isoformat(),
                valid_to.isoformat(), _iso(revoked_from), stamp if withdrawn else None,
                "Entered in error" if withdrawn else None, _iso(conditions_due), json_text(eqf_levels),
                json_text(fields), "[]", json_text(report_links), 0, 1, stamp, stamp,
            )
        )  # fmt: skip
        rows["qa_result_provider"].append((result_id, provider_id))
        programmes = []
        if activity in ("programme", "joint programme"):
            for number in range(rng.randrange(1, 3)):
                programme = SimpleNamespace(
                    id=(result_id - 1) * 2 + number + 1,
                    name=f"Programme {number + 1} of provider {provider_id}",
                    identifier=f"urn:bench:{provider_id}:{result_id}:{number}",
                    ects=float(rng.choice((5, 10, 60, 120, 180))),
                    eqf_level=rng.choice((5, 6, 7, 8)),
                    isced_field=f"{rng.randrange(1, 11):02d}{rng.randrange(1, 10)}{rng.randrange(1, 10)}",
                    full_degree=rng.random() < 0.7,
                )
                rows["qa_result_programme"].append(
                    (
                        programme.id, result_id, programme.name, programme.identifier, programme.ects,
                        programme.eqf_level, programme.isced_field, int(programme.full_degree),
                    )
                )  # fmt: skip
                programmes.append(programme)
        if withdrawn:
            return None
        result = SimpleNamespace(
            id=result_id,
            agency_id=agency_id,
            activity_type=activity,
            decision=decision,
            valid_from=valid_from,
            valid_to=valid_to,
            revoked_from=revoked_from,
            conditions_due=conditions_due,
            limit_eqf_levels=eqf_levels,
            limit_fields=fields,
            limit_jurisdictions=[],
            report_links=report_links,
        )
        return result_entry(
            result,  # type: ignore[arg-type]
            self.agencies.get(agency_id),  # type: ignore[arg-type]
            self._registered(agency_id, valid_from),
            programmes,  # type: ignore[arg-type]
            None,
            None,
        )


_builder: RegistryBuilder | None = None


def _start_worker(context: dict[str, Any]) -> None:
    global _builder
    _builder = RegistryBuilder(context)


def _generate(task: tuple[int, int, int, dt.datetime]) -> Rows:
    assert _builder is not None
    return _builder.chunk(*task)


def _secondary_indexes(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    """The explicit indexes of the tables the builder fills (not the primary keys or unique constraints)."""
    marks = ",".join("?" * len(COLUMNS))
    return connection.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        list(COLUMNS),
    ).fetchall()


def _generated(size: int, context: dict[str, Any], workers: int) -> Iterator[Rows]:
    """The chunks in provider order, generated in worker processes, with their feed positions."""
    now = dt.datetime.now(dt.UTC)
    tasks = [
        (index, first, min(first + CHUNK, size + 1) - 1, now) for index, first in enumerate(range(1, size + 1, CHUNK))
    ]
    position = 0
    # fork: the workers inherit the imported application instead of importing it again.
    pool = multiprocessing.get_context("fork").Pool(workers, _start_worker, (context,)) if workers > 1 else None
    if pool is None:
        _start_worker(context)
    chunks = pool.imap(_generate, tasks) if pool else map(_generate, tasks)
    try:
        for rows in chunks:
            # Feed positions in provider order, as one commit listing them all would give them.
            listed = rows["trust_list_entry"]
            rows["trust_list_entry"] = [
                (provider_id, position + number, entry, stamp)
                for number, (provider_id, _zero, entry, stamp) in enumerate(listed, start=1)
            ]
            position += len(listed)
            yield rows
    finally:
        if pool:
            pool.close()
            pool.join()


def _write(path: Path, size: int, context: dict[str, Any], workers: int) -> None:
    """Write the generated chunks with one connection, secondary indexes dropped meanwhile."""
    connection = sqlite3.connect(path, isolation_level=None)
    # A throw-away build: no journal, no syncs, a large cache, no foreign key checks per row.
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-400000", "foreign_keys=OFF",
                   "locking_mode=EXCLUSIVE", "temp_store=MEMORY"):  # fmt: skip
        connection.execute(f"PRAGMA {pragma}")
    indexes = _secondary_indexes(connection)
    for name, _sql in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    statements = {
        table: f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for table, columns in COLUMNS.items()
    }
    position = 0
    for rows in _generated(size, context, workers):
        connection.execute("BEGIN")
        for table, statement in statements.items():
            connection.executemany(statement, rows[table])
        connection.execute("COMMIT")
        position = rows["trust_list_entry"][-1][1] if rows["trust_list_entry"] else position
    connection.execute("UPDATE trust_feed_counter SET position = ? WHERE id = 1", (position,))
    for _name, sql in indexes:
        connection.execute(sql)
    # Statistics for the planner from a sample of each index: a full ANALYZE reads the whole file.
    connection.execute("PRAGMA analysis_limit=2000")
    connection.execute("ANALYZE")
    connection.close()


def build_registry(path: Path, size: int, workers: int | None = None) -> float:
    """Build the registry file at path unless it exists; returns the seconds spent building."""
    if path.exists():
        migrations.upgrade(f"sqlite:///{path}")
        return 0.0
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    url = f"sqlite:///{partial}"
    migrations.upgrade(url)
    engine = _reference_engine(partial)
    with Session(engine) as session:
        load_reference(session)
        ensure_key(session)
        session.commit()
    with engine.connect() as connection:
        context = RegistryBuilder.context(connection)
    engine.dispose()
    _write(partial, size, context, workers or os.cpu_count() or 1)
    partial.rename(path)
    return time.perf_counter() - started


def build_postgres_registry(admin_url: str, size: int, workers: int | None = None) -> tuple[str, float]:
    """The same registry in a PostgreSQL database bench_<size> (created from admin_url), loaded with COPY.

    Reused when it already holds its providers; returns its URL and the seconds spent building.
    """
    import psycopg

    name = f"bench_{size}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as admin:  # fmt: skip
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            with psycopg.connect(libpq) as connection:
                built = connection.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'provider'"
                ).fetchone()
                if built and built[0] and connection.execute("SELECT count(*) FROM provider").fetchone() == (size,):
                    migrations.upgrade(url)
                    return url, 0.0
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        ensure_key(session)
        session.commit()
    with engine.connect() as connection:
        context = RegistryBuilder.context(connection)
    engine.dispose()
    with psycopg.connect(libpq) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        connection.execute("SET synchronous_commit = off")
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s) "
            "AND indexname LIKE 'ix\\_%%'",
            (list(COLUMNS),),
        ).fetchall()
        for index, _definition in indexes:
            connection.execute(f'DROP INDEX "{index}"')
        connection.commit()
        position = 0
        for rows in _generated(size, context, workers or os.cpu_count() or 1):
            for table, columns in COLUMNS.items():
                with connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows[table]:
                        copy.write_row(row)
            position = rows["trust_list_entry"][-1][1] if rows["trust_list_entry"] else position
            connection.commit()
        connection.execute("UPDATE trust_feed_counter SET position = %s WHERE id = 1", (position,))
        for _index, definition in indexes:
            connection.execute(definition)
        # Later inserts by the application take ids after the loaded ones.
        for table in ("provider", "provider_name", "provider_identifier", "qa_result", "qa_result_programme",
                      "provider_suspension"):  # fmt: skip
            connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    return url, time.perf_counter() - started


def evict_from_page_cache(path: Path) -> None:
    """Ask the kernel to drop the file's cached pages (Linux), so that the next reads come from the disk."""
    for name in (path, path.with_name(path.name + "-wal")):
        if name.exists():
            descriptor = os.open(name, os.O_RDONLY)
            try:
                os.fsync(descriptor)
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def lookup_identifiers(path: Path) -> Path:
    """A file of random resolving identifiers (percent-encoded, one a line) for the load generators."""
    sample = path.with_suffix(".lookups")
    if sample.exists():
        return sample
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(ProviderIdentifier)).scalar_one()
        share = min(1.0, SAMPLE / max(total, 1))
        rows = connection.execute(
            select(ProviderIdentifier.value).where(
                col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS),
                # random() spans the 64-bit integers; keep about `share` of the rows.
                func.random() < (share * 2 - 1) * 2**63,
            )
        )
        values = [quote(row[0], safe="") for row in rows]
    engine.dispose()
    sample.write_text("\n".join(values) + "\n")
    return sample


def status_counts(path: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(TrustTimeline.current_status, text("count(*)")).group_by(TrustTimeline.current_status)
        )
        counts = {row[0]: row[1] for row in rows}
    engine.dispose()
    return counts
