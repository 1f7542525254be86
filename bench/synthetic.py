"""Synthetic registries for the lookup benchmark, bulk-loaded into a migrated SQLite file.

Rows go in with SQLAlchemy Core executemany; the trust timeline documents are assembled with the
helpers registry.trust.timeline uses, so the benchmark reads documents of the real shape.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlmodel import Session, col

from registry import migrations
from registry.agencies.models import Agency, AgencyRegistration
from registry.folding import fold
from registry.providers.identifiers import normalise
from registry.providers.models import Provider, ProviderIdentifier, ProviderName, ProviderSuspension
from registry.qa.models import QAResult, QAResultProgramme, QAResultProvider
from registry.reference.models import Country
from registry.reference.services import load_reference
from registry.timeutil import add_years
from registry.trust.models import TrustTimeline
from registry.trust.signing import ensure_key
from registry.trust.timeline import assemble_document, internal_qa_entry, result_entry, status_today
from registry.vocabulary import PROVIDER_TYPES, RESOLVING_ORIGINS

CHUNK = 20_000
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


def _sqlite_bulk_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    # A throw-away build: durability and per-row foreign-key checks only slow it down.
    def configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("PRAGMA cache_size=-200000")
        cursor.close()

    event.listen(engine, "connect", configure)
    return engine


class RegistryBuilder:
    """Generates `size` providers with about 3 identifiers and 3 results each, reproducibly."""

    def __init__(self, engine: Engine, size: int, seed: int = 20251) -> None:
        self.engine = engine
        self.size = size
        self.rng = random.Random(seed)
        with engine.connect() as connection:
            self.countries = [row[0] for row in connection.execute(select(Country.iso2))]
            self.agencies = {row.id: row for row in connection.execute(select(Agency.id, Agency.acronym, Agency.name))}
            self.windows: dict[int, list[tuple[dt.date, dt.date | None]]] = {}
            registrations = select(
                AgencyRegistration.agency_id, AgencyRegistration.registered_from, AgencyRegistration.registered_to
            ).where(AgencyRegistration.withdrawn_at.is_(None))  # type: ignore[union-attr]
            for row in connection.execute(registrations):
                self.windows.setdefault(row[0], []).append((row[1], row[2]))
        self.agency_ids = list(self.agencies)
        self.result_id = 0
        self.programme_id = 0
        self.identifier_id = 0

    def _registered(self, agency_id: int, on: dt.date) -> bool:
        return any(start <= on and (end is None or end >= on) for start, end in self.windows.get(agency_id, ()))

    def build(self) -> None:
        now = dt.datetime.now(dt.UTC)
        for first in range(1, self.size + 1, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {
                name: [] for name in ("provider", "name", "identifier", "result", "link", "programme", "susp", "tl")
            }
            for provider_id in range(first, min(first + CHUNK, self.size + 1)):
                self._provider(provider_id, now, rows)
            with self.engine.begin() as connection:
                for table, key in (
                    (Provider, "provider"),
                    (ProviderName, "name"),
                    (ProviderIdentifier, "identifier"),
                    (QAResult, "result"),
                    (QAResultProvider, "link"),
                    (QAResultProgramme, "programme"),
                    (ProviderSuspension, "susp"),
                    (TrustTimeline, "tl"),
                ):
                    if rows[key]:
                        connection.execute(insert(table.__table__), rows[key])  # type: ignore[attr-defined]

    def _provider(self, provider_id: int, now: dt.datetime, rows: dict[str, list[dict[str, Any]]]) -> None:
        rng = self.rng
        slug = f"p{provider_id}-{rng.randrange(36**4):04x}"
        host = f"{slug}.bench.example"
        closed_on = _day(rng, 2012, 2026) if rng.random() < 0.02 else None
        provider = {
            "id": provider_id,
            "country_iso2": rng.choice(self.countries),
            "provider_type": rng.choices(PROVIDER_TYPES, weights=TYPE_WEIGHTS)[0],
            "website": f"https://{host}",
            "founded_on": _day(rng, 1900, 2020),
            "closed_on": closed_on,
            "confirmed": True,
            "is_demo": False,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        rows["provider"].append(provider)
        names = {"official": f"Bench Provider {provider_id}"}
        if rng.random() < 0.5:
            names["english"] = f"Bench Provider {provider_id} (English)"
        for kind, name in names.items():
            rows["name"].append(
                {"provider_id": provider_id, "kind": kind, "name": name, "folded": fold(name), "lang": None}
            )
        identifiers = [("did", f"did:web:{host}"), ("url", f"https://{host}/issuer")]
        identifiers.append(rng.choice([("deqar", f"DEQARINST{provider_id:07d}"), ("domain", host)]))
        for scheme, value in identifiers:
            # A few identifiers are unproven claims, which never resolve.
            origin = "claimed" if rng.random() < 0.03 else rng.choice(("agency", "imported", "proven"))
            self.identifier_id += 1
            rows["identifier"].append(
                {
                    "id": self.identifier_id,
                    "provider_id": provider_id,
                    "scheme": scheme,
                    "value": value,
                    "normalised": normalise(scheme, value),
                    "valid_from": None,
                    "valid_to": None,
                    "origin": origin,
                    "established_at": now,
                    "agency_id": None,
                }
            )
        suspensions = []
        if rng.random() < 0.01:
            start = _day(rng, 2018, 2026)
            end = start + dt.timedelta(days=rng.randrange(30, 400)) if rng.random() < 0.5 else None
            suspension = {
                "provider_id": provider_id,
                "suspended_from": start,
                "suspended_to": end,
                "reason": "Benchmark suspension",
                "by_user_id": None,
                "created_at": now,
            }
            rows["susp"].append(suspension)
            suspensions.append(SimpleNamespace(**suspension))
        entries = [self._result(provider_id, now, rows) for _ in range(rng.choice((2, 3, 3, 4)))]
        document = assemble_document(
            SimpleNamespace(**provider),  # type: ignore[arg-type]
            names,
            None,
            suspensions,  # type: ignore[arg-type]
            [entry for entry in entries if entry is not None],
            internal_qa_entry([]),
        )
        status, until = status_today(document)
        rows["tl"].append(
            {
                "provider_id": provider_id,
                "document": document,
                "current_status": status,
                "status_until": until,
                "updated_at": now,
            }
        )

    def _result(self, provider_id: int, now: dt.datetime, rows: dict[str, list[dict[str, Any]]]) -> dict | None:
        rng = self.rng
        self.result_id += 1
        agency_id = rng.choice(self.agency_ids)
        activity = _weighted(rng, ACTIVITIES)
        decision = _weighted(rng, DECISIONS)
        valid_from = _day(rng, 2010, 2025)
        valid_to = add_years(valid_from, 6)
        with_conditions = decision == "positive with conditions or restrictions"
        withdrawn = rng.random() < 0.01
        result = {
            "id": self.result_id,
            "agency_id": agency_id,
            "local_id": f"R{self.result_id}",
            "activity_type": activity,
            "status": rng.choice(("part of obligatory external QA system", "voluntary")),
            "decision": decision,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "revoked_from": valid_from + dt.timedelta(days=rng.randrange(200, 2000)) if rng.random() < 0.02 else None,
            "withdrawn_at": now if withdrawn else None,
            "withdrawn_reason": "Entered in error" if withdrawn else None,
            "withdrawn_by_user_id": None,
            "conditions_due": valid_from + dt.timedelta(days=rng.randrange(180, 720)) if with_conditions else None,
            "limit_eqf_levels": sorted(rng.sample((5, 6, 7, 8), rng.randrange(1, 4))) if rng.random() < 0.2 else [],
            "limit_fields": [f"{rng.randrange(1, 11):02d}"] if rng.random() < 0.1 else [],
            "limit_jurisdictions": [],
            "report_links": [f"https://reports.bench.example/{self.result_id}.pdf"],
            "summary": None,
            "is_demo": False,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        rows["result"].append(result)
        rows["link"].append({"result_id": self.result_id, "provider_id": provider_id})
        programmes = []
        if activity in ("programme", "joint programme"):
            for number in range(rng.randrange(1, 3)):
                self.programme_id += 1
                programme = {
                    "id": self.programme_id,
                    "result_id": self.result_id,
                    "name": f"Programme {number + 1} of provider {provider_id}",
                    "identifier": f"urn:bench:{provider_id}:{self.result_id}:{number}",
                    "ects": float(rng.choice((5, 10, 60, 120, 180))),
                    "eqf_level": rng.choice((5, 6, 7, 8)),
                    "isced_field": f"{rng.randrange(1, 11):02d}{rng.randrange(1, 10)}{rng.randrange(1, 10)}",
                    "full_degree": rng.random() < 0.7,
                }
                rows["programme"].append(programme)
                programmes.append(SimpleNamespace(**programme))
        if withdrawn:
            return None
        return result_entry(
            SimpleNamespace(**result),  # type: ignore[arg-type]
            self.agencies.get(agency_id),  # type: ignore[arg-type]
            self._registered(agency_id, valid_from),
            programmes,  # type: ignore[arg-type]
            None,
            None,
        )


def build_registry(path: Path, size: int) -> float:
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
    engine = _sqlite_bulk_engine(partial)
    with Session(engine) as session:
        load_reference(session)
        ensure_key(session)
        session.commit()
    builder = RegistryBuilder(engine, size)
    builder.build()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    partial.rename(path)
    for leftover in path.parent.glob(partial.name + "-*"):
        leftover.unlink()
    return time.perf_counter() - started


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
