"""Derived state kept current by the unit of work, so that no write path can forget it.

Every ORM session, whoever opens it, collects after each flush what the flush touched: providers
(and their names, identifiers, suspensions, mergers), QA results (and their provider links,
programmes, report files), agencies (and their EQAR windows) and self-assessments. Just before
the transaction commits, it brings up to date, once and set-based:

- the trust timelines of the touched providers, of the providers of touched results and of the
  providers reviewed by touched agencies (registry/trust/timeline.py),
- the review deadlines of touched results, self-assessments and agencies (registry/deadlines),
- the trust list entries and the change feed (registry/trust/feed.py), last, as its row lock is
  held until commit.

A write path therefore only changes records through the session (session.add / session.delete)
and commits; it never calls a refresh. A query in the same transaction that reads a timeline, a
deadline or a list entry first brings them up to date too, so nothing reads stale derived state.
Writes made with bulk SQL statements bypass the ORM and are not seen: name what they touched with
touch().
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine, delete, event, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, col

from registry.agencies.models import Agency, AgencyRegistration
from registry.assessments.models import SelfAssessment
from registry.deadlines import services as deadlines
from registry.deadlines.models import ReviewDeadline
from registry.providers.models import Provider, ProviderIdentifier, ProviderName, ProviderRelation, ProviderSuspension
from registry.qa.models import QAReportFile, QAResult, QAResultProgramme, QAResultProvider
from registry.settings import get_settings
from registry.trust import feed, timeline
from registry.trust.models import TrustListEntry, TrustTimeline
from registry.trust.verdict import Policy

_WORK = "registry.derived"
_IN_LIST = 5000
_SETTLING = "registry.derived.settling"
_GREW = "registry.derived.grew"
# A committed transaction that touched at least this many results (an import batch) has PostgreSQL's
# statistics checked afterwards (see _analyze_grown_tables).
ANALYZE_AFTER_RESULTS = 200
# The tables the derived-state queries plan over, and those grown by more than a tenth (in pages, exact
# at once, where the activity counters reach pg_stat a moment after the commit) since last analysed.
_ANALYZED = ("qa_result", "qa_result_provider", "qa_result_programme", "review_deadline", "trust_timeline")
_GROWN = text(
    "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = ANY(:names)"
    " AND pg_relation_size(oid) / current_setting('block_size')::int > 1.1 * GREATEST(relpages, 0)"
)
_log = logging.getLogger("registry.derived")
_DERIVED_TABLES = frozenset(
    model.__tablename__  # type: ignore[attr-defined]
    for model in (TrustTimeline, ReviewDeadline, TrustListEntry)
)


@dataclass
class Touched:
    """What a transaction changed that derived state depends on."""

    providers: set[int] = field(default_factory=set)
    results: set[int] = field(default_factory=set)
    # Providers a result was unlinked from: their deadlines for it go.
    former_result_providers: set[int] = field(default_factory=set)
    agencies: set[int] = field(default_factory=set)
    assessed_providers: set[int] = field(default_factory=set)
    # Providers whose timeline was refreshed and whose list entry is yet to be compared at commit.
    listed: set[int] = field(default_factory=set)
    # Results settled so far in this transaction (how large a write it was).
    settled_results: int = 0
    # Results inserted since the last settle (whatever else then happened to them).
    inserted_results: set[int] = field(default_factory=set)

    def pending(self) -> bool:
        return bool(self.providers or self.results or self.agencies or self.assessed_providers)


def touched(session: Session) -> Touched:
    work = session.info.get(_WORK)
    if work is None:
        work = session.info[_WORK] = Touched()
    return work


def touch(
    session: Session,
    *,
    providers: Iterable[int] = (),
    results: Iterable[int] = (),
    agencies: Iterable[int] = (),
    assessed_providers: Iterable[int] = (),
) -> None:
    """Name what a bulk statement changed, for writes that bypass the ORM."""
    work = touched(session)
    work.providers.update(providers)
    work.results.update(results)
    work.agencies.update(agencies)
    work.assessed_providers.update(assessed_providers)


def rebuild_all(session: Session) -> int:
    """Derive everything again from the records (after an upgrade, or a change of policy settings)."""
    session.execute(delete(TrustTimeline.__table__))  # type: ignore[attr-defined]
    ids = [i for i in session.scalars(select(col(Provider.id))) if i is not None]
    touch(session, providers=ids, assessed_providers=ids)
    touched(session).agencies.update(i for i in session.scalars(select(col(Agency.id))) if i is not None)
    return len(ids)


def _note(work: Touched, record: Any, deleted: bool) -> None:
    if isinstance(record, Provider):
        work.providers.add(record.id or 0)
    elif isinstance(record, ProviderName | ProviderSuspension | ProviderIdentifier):
        work.providers.add(record.provider_id)
    elif isinstance(record, ProviderRelation):
        work.providers.update((record.provider_id, record.related_provider_id))
    elif isinstance(record, QAResult):
        work.results.add(record.id or 0)
    elif isinstance(record, QAResultProvider):
        work.results.add(record.result_id)
        work.providers.add(record.provider_id)
        if deleted:
            work.former_result_providers.add(record.provider_id)
    elif isinstance(record, QAResultProgramme | QAReportFile):
        work.results.add(record.result_id)
    elif isinstance(record, Agency):
        work.agencies.add(record.id or 0)
    elif isinstance(record, AgencyRegistration):
        work.agencies.add(record.agency_id)
    elif isinstance(record, SelfAssessment):
        work.assessed_providers.add(record.provider_id)


@event.listens_for(OrmSession, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    work = touched(session)
    for record in session.new:
        _note(work, record, deleted=False)
        if isinstance(record, QAResult):
            work.inserted_results.add(record.id or 0)
    for record in session.dirty:
        if session.is_modified(record, include_collections=False):
            _note(work, record, deleted=False)
    for record in session.deleted:
        _note(work, record, deleted=True)


def settle(session: Session) -> None:
    """Bring timelines and deadlines up to date with what the transaction touched so far."""
    if session.info.get(_SETTLING):
        return
    session.info[_SETTLING] = True
    try:
        session.flush()
        work = touched(session)
        while work.pending():
            _settle_once(session, work)
            session.flush()
    finally:
        session.info[_SETTLING] = False


def _settle_once(session: Session, work: Touched) -> None:
    # Taken over, not copied: an all-or-nothing import's touched results are as many as its rows.
    providers, results, agencies = work.providers, work.results, work.agencies
    former, assessed, inserted = work.former_result_providers, work.assessed_providers, work.inserted_results
    work.providers, work.results, work.agencies = set(), set(), set()
    work.former_result_providers, work.assessed_providers, work.inserted_results = set(), set(), set()
    links = QAResultProvider.__table__  # type: ignore[attr-defined]
    qa_results = QAResult.__table__  # type: ignore[attr-defined]
    if agencies:
        # Whether an agency's results count depends on its registration at their start.
        results |= set(session.scalars(select(qa_results.c.id).where(qa_results.c.agency_id.in_(agencies))))
    # In chunks: a bulk import touches more results than one IN list may name.
    ordered = sorted(results)
    for start in range(0, len(ordered), _IN_LIST):
        chunk = ordered[start : start + _IN_LIST]
        providers |= set(session.scalars(select(links.c.provider_id).where(links.c.result_id.in_(chunk))))
    providers |= former | assessed
    providers.discard(0)
    if providers and session.get_bind().dialect.name == "postgresql":
        # Two transactions changing one provider would each rebuild its timeline from what they see;
        # locking the providers (in id order, so no deadlock) makes the later one see the earlier's commit.
        locked = sorted(providers)
        for start in range(0, len(locked), _IN_LIST):
            session.execute(
                select(col(Provider.id))
                .where(col(Provider.id).in_(locked[start : start + _IN_LIST]))
                .order_by(col(Provider.id))
                .with_for_update()
            )
    work.settled_results += len(results)
    work.listed |= timeline.refresh(session, providers)
    # New results only add deadlines (and meet older ones): none of their providers' deadlines can be gone.
    deadlines.sync_for_results(
        session, results, former_provider_ids=former, only_added=not former and results <= inserted
    )
    deadlines.sync_for_assessments(session, assessed)
    deadlines.sync_for_agencies(session, agencies)


@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint (one row of a bulk import) is not the end of the unit of work: what it touched
        # is settled once, set-based, when the outer transaction commits.
        return
    settle(session)
    work = touched(session)
    if work.settled_results >= ANALYZE_AFTER_RESULTS:
        session.info[_GREW] = True
    if work.listed:
        settings = get_settings()
        policy = Policy(settings.require_eqar_registered, settings.require_internal_qa_years)
        listed = set(work.listed)
        work.listed.clear()
        feed.record(session, listed, policy)


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_GREW, False):
        _analyze_grown_tables(session.get_bind())


def _analyze_grown_tables(bind: Any) -> None:
    """After a large write on PostgreSQL, ANALYZE the tables that grew by more than a tenth since last analysed.

    The deadline and timeline queries are planned from table statistics. Autovacuum refreshes them up
    to a minute late (and never where it is off), so during an import of many batches the planner
    thought tables of thousands of rows held a handful and chose plans that scan one table per row of
    another. Runs after the commit on a connection of its own (autocommit: no lock held into anyone's
    transaction); a failure (no privilege, a timeout) only costs the fresher plan.
    """
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return
    try:
        with bind.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            stale = [name for (name,) in connection.execute(_GROWN, {"names": list(_ANALYZED)})]
            for name in sorted(stale):
                connection.execute(text(f'ANALYZE "{name}"'))
    except SQLAlchemyError as error:
        _log.warning("statistics not refreshed after a large write: %s", error)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # A transaction that ended without commit (rolled back) leaves nothing to do.
    if transaction.parent is None:
        session.info.pop(_WORK, None)
        session.info.pop(_GREW, None)


@event.listens_for(OrmSession, "do_orm_execute")
def _settle_before_reading(state: ORMExecuteState) -> None:
    session = cast(Session, state.session)
    if not state.is_select or session.info.get(_SETTLING):
        return
    work = session.info.get(_WORK)
    unflushed = session.new or session.deleted or session.dirty
    if not unflushed and (work is None or not work.pending()):
        return
    tables = find_tables(cast(ClauseElement, state.statement), include_joins=True)
    if {table.name for table in tables} & _DERIVED_TABLES:
        settle(session)
