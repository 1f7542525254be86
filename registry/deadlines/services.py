"""Review deadlines derived from the records, kept current on every write.

Each sync is one set-based upsert keyed on `source_key` plus a delete of the deadlines whose source
is gone (a withdrawn result, removed conditions, a renewed registration). A result's end counts as
met once a newer positive result for the same provider lasts beyond it. The unit of work
(registry/derived.py) calls the syncs before every commit for what the transaction touched;
`sync_all` rebuilds everything the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from registry.agencies.models import AgencyRegistration
from registry.assessments.models import SelfAssessment
from registry.db import dialect_insert
from registry.deadlines.models import DeadlineReminder, ProviderStatusEvent, ReviewDeadline
from registry.qa.models import QAResult, QAResultProvider
from registry.timeutil import utcnow
from registry.vocabulary import POSITIVE_DECISIONS

RESULT_EXPIRY = "result_expiry"
CONDITIONS_DUE = "conditions_due"
SELF_ASSESSMENT_DUE = "self_assessment_due"
EQAR_REGISTRATION_END = "eqar_registration_end"
KINDS = (RESULT_EXPIRY, CONDITIONS_DUE, SELF_ASSESSMENT_DUE, EQAR_REGISTRATION_END)

_COLUMNS = (
    "source_key",
    "kind",
    "due_on",
    "provider_id",
    "agency_id",
    "result_id",
    "assessment_id",
    "registration_id",
    "concerns_operators",
    "description",
    "met_at",
    "created_at",
)
_deadlines = ReviewDeadline.__table__  # type: ignore[attr-defined]


def _text(value: Any) -> Any:
    return cast(value, String)


def _now() -> Any:
    return literal(utcnow(), type_=_deadlines.c.created_at.type)


def _result_rows(
    result_ids: Select[Any] | CompoundSelect[Any] | None, added_from: int | None = None
) -> list[Select[Any]]:
    """The deadline rows of these results; with added_from, only those that can differ from the stored ones
    when the results from that id on are all new (sync_for_results)."""
    r = QAResult.__table__  # type: ignore[attr-defined]
    rp = QAResultProvider.__table__  # type: ignore[attr-defined]
    scope = [r.c.withdrawn_at.is_(None)]
    if result_ids is not None:
        scope.append(r.c.id.in_(result_ids))
    if added_from is not None:
        scope.append(r.c.id >= added_from)
    # Only a positive result is something to renew; a negative one simply lapses.
    ends = _expiries(result_ids)
    expiry = select(
        literal("result:") + _text(ends.c.result_id) + literal(":expiry:provider:") + _text(ends.c.provider_id),
        literal(RESULT_EXPIRY),
        ends.c.ends,
        ends.c.provider_id,
        ends.c.agency_id,
        ends.c.result_id,
        literal(None),
        literal(None),
        false(),
        ends.c.description,
        case((ends.c.later_end > ends.c.ends, _now()), else_=literal(None)),
        _now(),
    )
    # Always a WHERE: SQLite reads "INSERT ... SELECT ... ON CONFLICT" right only with one.
    expiry = expiry.where(true() if result_ids is None else ends.c.result_id.in_(result_ids))
    if added_from is not None:
        # An older result's row changes only when a new one meets its end.
        expiry = expiry.where(or_(ends.c.result_id >= added_from, ends.c.later_end > ends.c.ends))
    conditions = select(
        literal("result:") + _text(r.c.id) + literal(":conditions:provider:") + _text(rp.c.provider_id),
        literal(CONDITIONS_DUE),
        r.c.conditions_due,
        rp.c.provider_id,
        r.c.agency_id,
        r.c.id,
        literal(None),
        literal(None),
        true(),
        literal("Follow-up on the conditions of a QA result due"),
        literal(None),
        _now(),
    ).where(r.c.id == rp.c.result_id, r.c.conditions_due.is_not(None), *scope)
    return [expiry, conditions]


def _expiries(result_ids: Select[Any] | CompoundSelect[Any] | None) -> Any:
    """Each counting positive result's end for each of its providers, with `later_end`: the latest end among
    that provider's positive results starting strictly later (NULL when none does).

    A newer positive result for the same provider lasting beyond this end renews it: the deadline is met.
    Covers every positive result of the providers of these results (of all providers for None): the
    caller keeps the rows of its results. Worked out with windows, not a correlated EXISTS or a join
    back: PostgreSQL without fresh statistics (autovacuum behind a large import, or off) ran either as a
    scan of every result per deadline row.
    """
    r = QAResult.__table__  # type: ignore[attr-defined]
    rp = QAResultProvider.__table__  # type: ignore[attr-defined]
    revoked = and_(r.c.revoked_from.is_not(None), r.c.revoked_from <= r.c.valid_to)
    ends = case((revoked, r.c.revoked_from), else_=r.c.valid_to)
    scope = [r.c.id == rp.c.result_id, r.c.withdrawn_at.is_(None), col(r.c.decision).in_(POSITIVE_DECISIONS)]
    if result_ids is not None:
        links = aliased(QAResultProvider)
        scope.append(rp.c.provider_id.in_(select(col(links.provider_id)).where(col(links.result_id).in_(result_ids))))
    newest_first = {"partition_by": rp.c.provider_id, "order_by": r.c.valid_from.desc()}
    # day_rank numbers a provider's start days, latest first; ends_from is the latest end among its
    # results starting that day or later (the default frame takes the whole day).
    days = (
        select(
            rp.c.provider_id,
            r.c.id.label("result_id"),
            r.c.agency_id,
            ends.label("ends"),
            case(
                (revoked, literal("QA result revoked from this day: ") + r.c.activity_type + literal(" review")),
                else_=literal("QA result valid until this day: ") + r.c.activity_type + literal(" review"),
            ).label("description"),
            func.dense_rank().over(**newest_first).label("day_rank"),
            func.max(ends).over(**newest_first).label("ends_from"),
        )
        .where(*scope)
        .subquery()
    )
    # Starting strictly later is starting on the day ranked just before: its ends_from.
    return select(
        days.c.provider_id,
        days.c.result_id,
        days.c.agency_id,
        days.c.ends,
        days.c.description,
        func.max(days.c.ends_from)
        .over(partition_by=days.c.provider_id, order_by=days.c.day_rank, range_=(-1, -1))
        .label("later_end"),
    ).subquery()


def _assessment_rows(provider_ids: list[int] | None) -> list[Select[Any]]:
    a = SelfAssessment.__table__  # type: ignore[attr-defined]
    newer = aliased(SelfAssessment)
    # Only the latest accepted self-assessment sets the renewal date.
    superseded = exists().where(
        col(newer.provider_id) == a.c.provider_id,
        col(newer.state) == "accepted",
        col(newer.version_number) > a.c.version_number,
    )
    scope = [a.c.state == "accepted", a.c.next_due.is_not(None), ~superseded]
    if provider_ids is not None:
        scope.append(a.c.provider_id.in_(provider_ids))
    return [
        select(
            literal("assessment:") + _text(a.c.id),
            literal(SELF_ASSESSMENT_DUE),
            a.c.next_due,
            a.c.provider_id,
            literal(None),
            literal(None),
            a.c.id,
            literal(None),
            true(),
            literal("Next internal-QA self-assessment (ESG Part 1) due"),
            literal(None),
            _now(),
        ).where(*scope)
    ]


def _registration_rows(agency_ids: list[int] | None) -> list[Select[Any]]:
    g = AgencyRegistration.__table__  # type: ignore[attr-defined]
    later = aliased(AgencyRegistration)
    # Another window reaching beyond this one's end renewed it: the end is then no deadline.
    renewed = exists().where(
        later.agency_id == g.c.agency_id,
        later.id != g.c.id,
        col(later.withdrawn_at).is_(None),
        or_(col(later.registered_to).is_(None), later.registered_to > g.c.registered_to),
    )
    scope = [g.c.registered_to.is_not(None), g.c.withdrawn_at.is_(None), ~renewed]
    if agency_ids is not None:
        scope.append(g.c.agency_id.in_(agency_ids))
    return [
        select(
            literal("registration:") + _text(g.c.id),
            literal(EQAR_REGISTRATION_END),
            g.c.registered_to,
            literal(None),
            g.c.agency_id,
            literal(None),
            literal(None),
            g.c.id,
            true(),
            literal("EQAR registration ends"),
            literal(None),
            _now(),
        ).where(*scope)
    ]


def _sync(session: Session, rows: list[Select[Any]], stale_scope: Any, *, find_gone: bool = True) -> None:
    session.flush()
    for query in rows:
        statement = dialect_insert(session, _deadlines).from_select(list(_COLUMNS), query)
        excluded = statement.excluded
        updates: dict[str, Any] = {
            "due_on": excluded.due_on,
            "provider_id": excluded.provider_id,
            "agency_id": excluded.agency_id,
            "concerns_operators": excluded.concerns_operators,
            "description": excluded.description,
            # Met stays met from the first time it was; a withdrawn renewal makes it open again.
            "met_at": case(
                (excluded.met_at.is_(None), literal(None)),
                else_=func.coalesce(_deadlines.c.met_at, excluded.met_at),
            ),
            # A moved due day is a new deadline: it is no longer overdue until it passes again.
            "overdue_since": case(
                (_deadlines.c.due_on == excluded.due_on, _deadlines.c.overdue_since), else_=literal(None)
            ),
        }
        # A row that would stay as it is is not rewritten: a batch of results re-derives every deadline
        # of the providers it touches, and almost all of them come out unchanged.
        statement = statement.on_conflict_do_update(
            index_elements=["source_key"],
            set_=updates,
            where=or_(*(_deadlines.c[name].is_distinct_from(value) for name, value in updates.items())),
        )
        session.execute(statement)
    if not find_gone:
        session.flush()
        return
    wanted = rows[0].with_only_columns(rows[0].selected_columns[0])
    for query in rows[1:]:
        wanted = wanted.union_all(query.with_only_columns(query.selected_columns[0]))  # type: ignore[assignment]
    # Worked out once (it evaluates the rows' queries again), then deleted by id: usually none are gone.
    gone = sorted(session.scalars(select(_deadlines.c.id).where(stale_scope, _deadlines.c.source_key.not_in(wanted))))
    reminders = DeadlineReminder.__table__  # type: ignore[attr-defined]
    for chunk in _chunks(gone):
        session.execute(delete(reminders).where(reminders.c.deadline_id.in_(chunk)))
        session.execute(delete(_deadlines).where(_deadlines.c.id.in_(chunk)))
    session.flush()


def sync_for_results(
    session: Session, result_ids: Iterable[int], former_provider_ids: Iterable[int] = (), *, only_added: bool = False
) -> None:
    """After results were recorded, updated, withdrawn or revoked (the unit of work calls this).

    The providers' other results are synced too: these may renew them, or stop renewing them.
    only_added: every result named was inserted since the last sync (and no link was removed). New results
    take nothing away: no deadline of their providers has lost its source, so none is looked for to
    delete, and an older result's deadline changes only when a new result meets its end (a later end
    among later starts only grows), so only those rows and the new results' own are written. Every
    look-up and write of a full sync evaluates each deadline of those providers again.
    """
    ids = sorted(result_ids if isinstance(result_ids, set | frozenset) else set(result_ids))
    if not ids:
        return
    links = QAResultProvider.__table__  # type: ignore[attr-defined]
    results = QAResult.__table__  # type: ignore[attr-defined]
    # In chunks: a bulk import touches more results (and providers) than one IN list may name; only a
    # chunk's links are held at once (an all-or-nothing import touches as many results as it has rows).
    providers: set[int] = set(former_provider_ids)
    unlinked: list[int] = []
    for chunk in _chunks(ids):
        linked: set[int] = set()
        for result_id, provider_id in session.execute(
            select(links.c.result_id, links.c.provider_id).where(links.c.result_id.in_(chunk))
        ):
            linked.add(result_id)
            providers.add(provider_id)
        unlinked += [i for i in chunk if i not in linked]
    # Every result of those providers (a result linked to providers in two chunks is synced twice,
    # to the same rows), then the touched results that are linked to no provider any more.
    related_sets: list[Select[Any] | CompoundSelect[Any]] = [
        select(links.c.result_id).where(links.c.provider_id.in_(chunk)) for chunk in _chunks(sorted(providers))
    ]
    related_sets += [select(results.c.id).where(results.c.id.in_(chunk)) for chunk in _chunks(unlinked)]
    # New results have the highest ids (a concurrent writer's in between are written in full: harmless).
    added_from = ids[0] if only_added else None
    for related in related_sets:
        scope = and_(_deadlines.c.result_id.in_(related), _deadlines.c.kind.in_((RESULT_EXPIRY, CONDITIONS_DUE)))
        _sync(session, _result_rows(related, added_from), scope, find_gone=not only_added)


def _chunks(ids: list[int], size: int = 5000) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def sync_for_assessments(session: Session, provider_ids: Iterable[int]) -> None:
    """After providers' self-assessments were accepted or changed."""
    ids = sorted(set(provider_ids))
    if not ids:
        return
    scope = and_(_deadlines.c.provider_id.in_(ids), _deadlines.c.kind == SELF_ASSESSMENT_DUE)
    _sync(session, _assessment_rows(ids), scope)


def sync_for_agencies(session: Session, agency_ids: Iterable[int]) -> None:
    """After agencies' EQAR registration windows changed."""
    ids = sorted(set(agency_ids))
    if not ids:
        return
    scope = and_(_deadlines.c.agency_id.in_(ids), _deadlines.c.kind == EQAR_REGISTRATION_END)
    _sync(session, _registration_rows(ids), scope)


def sync_all(session: Session) -> int:
    """Rebuild every deadline from the records, in a handful of statements."""
    _sync(session, _result_rows(None), _deadlines.c.kind.in_((RESULT_EXPIRY, CONDITIONS_DUE)))
    _sync(session, _assessment_rows(None), _deadlines.c.kind == SELF_ASSESSMENT_DUE)
    _sync(session, _registration_rows(None), _deadlines.c.kind == EQAR_REGISTRATION_END)
    return int(session.execute(select(func.count()).select_from(_deadlines)).scalar_one())


def deadlines_for(
    session: Session, *, provider_id: int | None = None, agency_id: int | None = None, since: dt.date | None = None
) -> list[ReviewDeadline]:
    """The open deadlines concerning a provider or an agency, soonest first."""
    query = select(ReviewDeadline).where(col(ReviewDeadline.met_at).is_(None))
    if provider_id is not None:
        query = query.where(col(ReviewDeadline.provider_id) == provider_id)
    if agency_id is not None:
        query = query.where(col(ReviewDeadline.agency_id) == agency_id)
    if since is not None:
        query = query.where(col(ReviewDeadline.due_on) >= since)
    return list(session.scalars(query.order_by(col(ReviewDeadline.due_on), col(ReviewDeadline.id))))


def status_events(session: Session, provider_id: int, limit: int = 200) -> list[ProviderStatusEvent]:
    """What passing deadlines did to a provider (verdict changes, overdue conditions), newest first."""
    return list(
        session.scalars(
            select(ProviderStatusEvent)
            .where(col(ProviderStatusEvent.provider_id) == provider_id)
            .order_by(col(ProviderStatusEvent.occurred_on).desc(), col(ProviderStatusEvent.id).desc())
            .limit(limit)
        )
    )


def recent_status_events(session: Session, limit: int = 100) -> list[ProviderStatusEvent]:
    """What passing deadlines did across the registry, newest first: the operators' change list."""
    return list(
        session.scalars(
            select(ProviderStatusEvent)
            .order_by(col(ProviderStatusEvent.occurred_on).desc(), col(ProviderStatusEvent.id).desc())
            .limit(limit)
        )
    )
