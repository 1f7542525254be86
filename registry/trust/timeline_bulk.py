"""Timelines of many providers at once: a few set-based queries per chunk of providers, not several per provider.

build_documents() gives, for every confirmed provider asked for, the same document as
timeline.build_document() does one provider at a time (tests/trust/test_timeline_bulk.py compares them).
It reads each kind of record (names, suspensions, results and their links, programmes, report
files, agencies, registration windows, mergers, self-assessments) for a whole chunk of providers
in one query and assembles the documents in Python; write() stores them with one executemany.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import delete, select
from sqlmodel import Session

from registry.agencies.models import Agency, AgencyRegistration
from registry.assessments.models import SelfAssessment
from registry.db import dialect_insert
from registry.providers.models import Provider, ProviderName, ProviderRelation, ProviderSuspension
from registry.qa.models import QAReportFile, QAResult, QAResultProgramme, QAResultProvider
from registry.settings import get_settings
from registry.timeutil import utcnow
from registry.trust import timeline
from registry.trust.models import TrustTimeline
from registry.vocabulary import MERGER_RELATIONS, POSITIVE_DECISIONS

# Providers per chunk: bounds memory (their results and programmes are held at once). At 20,000
# reports over 3,000 providers, 100 kept the import's peak RSS at 141 MB where 500 reached 176 MB,
# for the same CPU time.
CHUNK = 100
# Ids per IN list when a chunk's results are looked up.
IN_LIST = 900

_providers = Provider.__table__  # type: ignore[attr-defined]
_names = ProviderName.__table__  # type: ignore[attr-defined]
_suspensions = ProviderSuspension.__table__  # type: ignore[attr-defined]
_relations = ProviderRelation.__table__  # type: ignore[attr-defined]
_results = QAResult.__table__  # type: ignore[attr-defined]
_links = QAResultProvider.__table__  # type: ignore[attr-defined]
_programmes = QAResultProgramme.__table__  # type: ignore[attr-defined]
_files = QAReportFile.__table__  # type: ignore[attr-defined]
_agencies = Agency.__table__  # type: ignore[attr-defined]
_registrations = AgencyRegistration.__table__  # type: ignore[attr-defined]
_assessments = SelfAssessment.__table__  # type: ignore[attr-defined]
_timelines = TrustTimeline.__table__  # type: ignore[attr-defined]
# What a timeline takes from a result (timeline.result_entry, inheritance): the rest is not read.
_RESULT_FIELDS = (
    "id",
    "agency_id",
    "activity_type",
    "decision",
    "valid_from",
    "valid_to",
    "revoked_from",
    "conditions_due",
    "limit_eqf_levels",
    "limit_fields",
    "limit_jurisdictions",
    "report_links",
)
# Standing mergers (one withdrawn as entered in error is not one), in id order.
_MERGERS = (
    select(_relations)
    .where(_relations.c.kind.in_(MERGER_RELATIONS), _relations.c.withdrawn_at.is_(None))
    .order_by(_relations.c.id)
)


def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


@dataclass
class _Loaded:
    """The records of one chunk of providers (and of their predecessors), keyed for assembly."""

    providers: dict[int, Any] = field(default_factory=dict)
    names: dict[int, dict[str, str]] = field(default_factory=dict)
    suspensions: dict[int, list[Any]] = field(default_factory=dict)
    # Merger relations by predecessor (provider_id) and by successor (related_provider_id), in id order.
    merged_into: dict[int, Any] = field(default_factory=dict)
    merged_from: dict[int, list[Any]] = field(default_factory=dict)
    own: dict[int, list[Any]] = field(default_factory=dict)
    results: dict[int, Any] = field(default_factory=dict)
    programmes: dict[int, list[Any]] = field(default_factory=dict)
    first_file: dict[int, int] = field(default_factory=dict)
    agencies: dict[int, Any] = field(default_factory=dict)
    windows: dict[int, list[Any]] = field(default_factory=dict)
    assessments: dict[int, list[Any]] = field(default_factory=dict)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)


def _in(session: Session, statement: Any, column: Any, ids: Iterable[int]) -> Iterator[Any]:
    for chunk in _chunks(ids, IN_LIST):
        yield from session.execute(statement.where(column.in_(chunk)))


def _load(session: Session, provider_ids: list[int]) -> _Loaded:
    loaded = _Loaded()
    for row in _in(session, select(_providers), _providers.c.id, provider_ids):
        loaded.providers[row.id] = row
    confirmed = [pid for pid, row in loaded.providers.items() if row.confirmed]
    # Predecessors, transitively: their results may be inherited.
    everyone = set(confirmed)
    frontier = set(confirmed)
    while frontier:
        incoming = list(
            _in(
                session,
                _MERGERS,
                _relations.c.related_provider_id,
                frontier,
            )
        )
        for relation in sorted(incoming, key=lambda r: r.id):
            loaded.merged_from.setdefault(relation.related_provider_id, []).append(relation)
        frontier = {r.provider_id for r in incoming} - everyone
        everyone |= frontier
    merges = _MERGERS
    for relation in sorted(_in(session, merges, _relations.c.provider_id, confirmed), key=lambda r: r.id):
        loaded.merged_into.setdefault(relation.provider_id, relation)
    successors = {r.related_provider_id for r in loaded.merged_into.values()}
    names = select(_names.c.provider_id, _names.c.kind, _names.c.name).order_by(_names.c.id)
    for row in sorted(_in(session, names, _names.c.provider_id, set(confirmed) | successors), key=lambda r: r[0]):
        loaded.names.setdefault(row.provider_id, {})[row.kind] = row.name
    suspensions = (
        select(_suspensions)
        .where(_suspensions.c.cancelled_at.is_(None))
        .order_by(_suspensions.c.suspended_from, _suspensions.c.id)
    )
    for row in _in(session, suspensions, _suspensions.c.provider_id, confirmed):
        loaded.suspensions.setdefault(row.provider_id, []).append(row)
    assessments = select(_assessments).order_by(_assessments.c.version_number)
    for row in _in(session, assessments, _assessments.c.provider_id, confirmed):
        loaded.assessments.setdefault(row.provider_id, []).append(row)
    own = (
        select(_links.c.provider_id, *(_results.c[name] for name in _RESULT_FIELDS))
        .join(_results, _results.c.id == _links.c.result_id)
        .where(_results.c.withdrawn_at.is_(None))
        .order_by(_results.c.id)
    )
    for row in _in(session, own, _links.c.provider_id, everyone):
        loaded.own.setdefault(row.provider_id, []).append(row.id)
        loaded.results.setdefault(row.id, row)
    result_ids = list(loaded.results)
    programmes = select(_programmes).order_by(_programmes.c.id)
    for row in _in(session, programmes, _programmes.c.result_id, result_ids):
        loaded.programmes.setdefault(row.result_id, []).append(row)
    files = select(_files.c.result_id, _files.c.id).where(_files.c.withdrawn_at.is_(None)).order_by(_files.c.id.desc())
    for row in _in(session, files, _files.c.result_id, result_ids):
        loaded.first_file[row.result_id] = row.id  # descending: the lowest id is written last
    agency_ids = {row.agency_id for row in loaded.results.values()}
    for row in _in(session, select(_agencies.c.id, _agencies.c.acronym, _agencies.c.name), _agencies.c.id, agency_ids):
        loaded.agencies[row.id] = row
    windows = select(_registrations).where(_registrations.c.withdrawn_at.is_(None))
    for row in _in(session, windows, _registrations.c.agency_id, agency_ids):
        loaded.windows.setdefault(row.agency_id, []).append(row)
    return loaded


def _registered(loaded: _Loaded, agency_id: int, day: dt.date) -> bool:
    return any(
        w.registered_from <= day and (w.registered_to is None or w.registered_to >= day)
        for w in loaded.windows.get(agency_id, ())
    )


def _entry(loaded: _Loaded, result_id: int, counts_from: Any, inherited_from: int | None) -> dict[str, Any]:
    base = loaded.entries.get(result_id)
    if base is None:
        result = loaded.results[result_id]
        base = timeline.result_entry(
            cast(QAResult, result),
            cast(Agency | None, loaded.agencies.get(result.agency_id)),
            _registered(loaded, result.agency_id, result.valid_from),
            cast(list[QAResultProgramme], loaded.programmes.get(result_id, [])),
            None,
            None,
        )
        if base["report_url"] is None and result_id in loaded.first_file:
            base["report_url"] = f"{get_settings().base_url}/reports/{loaded.first_file[result_id]}"
        loaded.entries[result_id] = base
    entry = dict(base)
    entry["counts_from"] = timeline._iso(counts_from)
    entry["inherited_from"] = inherited_from
    return entry


def _inherited(loaded: _Loaded, provider_id: int, seen: frozenset[int] = frozenset()) -> list[tuple[Any, dt.date, int]]:
    """timeline.inherited_results over the loaded records."""
    seen = seen | {provider_id}
    found: dict[int, tuple[Any, dt.date, int]] = {}
    for merger in loaded.merged_from.get(provider_id, ()):
        merged_on = merger.valid_from
        if merged_on is None or merger.provider_id in seen:
            continue
        counted: list[tuple[Any, dt.date | None, int]] = [
            (loaded.results[rid], None, merger.provider_id) for rid in loaded.own.get(merger.provider_id, ())
        ]
        counted += _inherited(loaded, merger.provider_id, seen)
        for result, counts_from, holder in counted:
            if result.decision not in POSITIVE_DECISIONS or (counts_from is not None and counts_from > merged_on):
                continue
            if not timeline._valid_on(result, merged_on):
                continue
            earlier = found.get(result.id)
            if earlier is None or merged_on < earlier[1]:
                found[result.id] = (result, merged_on, holder)
    return list(found.values())


def _document(loaded: _Loaded, provider_id: int) -> dict[str, Any]:
    provider = loaded.providers[provider_id]
    own = loaded.own.get(provider_id, [])
    results = [_entry(loaded, rid, None, None) for rid in own]
    own_ids = set(own)
    for result, counts_from, holder in _inherited(loaded, provider_id):
        if result.id not in own_ids:
            results.append(_entry(loaded, result.id, counts_from, holder))
    merged_into = loaded.merged_into.get(provider_id)
    successor = None
    if merged_into is not None:
        successor = timeline._display_name(
            merged_into.related_provider_id, loaded.names.get(merged_into.related_provider_id, {})
        )
    return timeline.assemble_document(
        cast(Provider, provider),
        loaded.names.get(provider_id, {}),
        cast(ProviderRelation | None, merged_into),
        cast(list[ProviderSuspension], loaded.suspensions.get(provider_id, [])),
        results,
        timeline.internal_qa_entry(cast(list[SelfAssessment], loaded.assessments.get(provider_id, []))),
        successor_name=successor,
    )


def build_documents(session: Session, provider_ids: Iterable[int]) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(provider id, document) for each provider, in id order; None for one unconfirmed or gone."""
    for chunk in _chunks(provider_ids, CHUNK):
        loaded = _load(session, chunk)
        for provider_id in chunk:
            row = loaded.providers.get(provider_id)
            yield provider_id, (_document(loaded, provider_id) if row is not None and row.confirmed else None)


def refresh(session: Session, provider_ids: Sequence[int] | set[int]) -> None:
    """Store the timelines of these providers (no inheritors added: timeline.refresh does that)."""
    statement = dialect_insert(session, _timelines)
    upsert = statement.on_conflict_do_update(
        index_elements=["provider_id"],
        set_={
            "document": statement.excluded.document,
            "current_status": statement.excluded.current_status,
            "status_until": statement.excluded.status_until,
            "updated_at": statement.excluded.updated_at,
        },
    )
    rows: list[dict[str, Any]] = []
    gone: list[int] = []
    now = utcnow()
    for provider_id, document in build_documents(session, provider_ids):
        if document is None:
            gone.append(provider_id)
            continue
        status, until = timeline.status_today(document)
        rows.append(
            {
                "provider_id": provider_id,
                "document": document,
                "current_status": status,
                "status_until": until,
                "updated_at": now,
            }
        )
        if len(rows) >= CHUNK:
            session.execute(upsert, rows)
            rows = []
    if rows:
        session.execute(upsert, rows)
    for chunk in _chunks(gone, IN_LIST):
        session.execute(delete(_timelines).where(_timelines.c.provider_id.in_(chunk)))
    _expire(session, set(provider_ids))


def _expire(session: Session, provider_ids: set[int]) -> None:
    """Timelines already in the session were rewritten underneath it: read them again when next used."""
    for key in list(session.identity_map.keys()):
        instance = session.identity_map.get(key)
        if instance is not None and key[0] is TrustTimeline and key[1][0] in provider_ids:
            if instance in session.deleted or instance in session.new:
                continue
            session.expire(instance)
