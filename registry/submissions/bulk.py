"""Many reports in one upload: what every row would look up is read once per chunk of rows, not once per row.

submit_report() stays the one place that decides what happens to a report; while an upload runs,
the lookups it makes (agencies, EQAR registration windows, providers by identifier, existing
results by local identifier) first consult a Lookups kept in the session's info, filled per chunk
with a few set-based queries. A lookup the cache cannot answer goes to the database as before, so a
record created earlier in the same upload is always found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from registry.agencies.models import Agency, AgencyRegistration
from registry.audit.services import Actor
from registry.providers.identifiers import InvalidIdentifier, normalise
from registry.providers.models import Provider, ProviderIdentifier
from registry.qa.models import QAResult
from registry.settings import Settings
from registry.vocabulary import RESOLVING_ORIGINS

# Rows read, looked up and written together; bounds what is held in memory at once.
CHUNK = 500
# Row-by-row imports commit after this many rows: each commit refreshes the derived state of what its
# rows touched, so fewer commits mean fewer rebuilds of the same providers' timelines.
COMMIT_ROWS = 5000
_IN_LIST = 900
_KEY = "registry.submissions.lookups"

if TYPE_CHECKING:
    from registry.submissions.fetching import ReportFetches
    from registry.submissions.services import Outcome


@dataclass
class Lookups:
    """What an upload has already looked up. Only what was found is kept, except results known absent."""

    agency_id: int
    agencies: dict[str, Agency] = field(default_factory=dict)
    windows: dict[int, list[tuple[dt.date, dt.date | None]]] = field(default_factory=dict)
    # (scheme, normalised) -> the providers holding it (several when held in turn), for the identifiers that
    # resolve (the agency's own "local" ones).
    providers: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # Held so that session.get() finds them in the identity map instead of asking the database (the
    # current chunk's only).
    provider_records: dict[int, Provider] = field(default_factory=dict)
    results: dict[str, QAResult] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)

    def agency(self, reference: str) -> Agency | None:
        return self.agencies.get(reference)

    def provider_ids(self, scheme: str, normalised: str) -> list[int] | None:
        return self.providers.get((scheme, normalised))

    def registered_on(self, agency_id: int, day: dt.date) -> bool | None:
        windows = self.windows.get(agency_id)
        if windows is None:
            return None
        return any(start <= day and (end is None or day <= end) for start, end in windows)

    def existing(self, local_id: str) -> tuple[bool, QAResult | None]:
        """(known, result): known is False when the database must be asked."""
        if local_id in self.results:
            return True, self.results[local_id]
        return local_id in self.absent, None

    def forget(self, local_id: str | None) -> None:
        """A result was recorded (or rolled back) under this local identifier: ask the database next time."""
        if local_id:
            self.absent.discard(local_id)
            self.results.pop(local_id, None)


def current(session: Session) -> Lookups | None:
    """The lookups of the upload running in this session, if any."""
    found = session.info.get(_KEY)
    return found if isinstance(found, Lookups) else None


@contextmanager
def upload(session: Session, agency: Agency) -> Iterator[Lookups]:
    """Keep lookups for the rows submitted inside this block (one upload, one agency)."""
    previous = session.info.get(_KEY)
    lookups = Lookups(agency.id or 0)
    session.info[_KEY] = lookups
    try:
        yield lookups
    finally:
        if previous is None:
            session.info.pop(_KEY, None)
        else:
            session.info[_KEY] = previous


def _in(values: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_LIST):
        yield ordered[start : start + _IN_LIST]


def prefetch(
    session: Session,
    lookups: Lookups,
    reports: Sequence[Any],
    pairs_of: Callable[[Any], list[tuple[str, str]]],
) -> None:
    """Read what these reports name, a few queries for the whole chunk.

    pairs_of gives the (scheme, value) pairs a report's institutions name, as submit_report tries them.
    """
    wanted: dict[str, set[str]] = {}
    local_ids: set[str] = set()
    agency_ids = {lookups.agency_id}
    for report in reports:
        if not isinstance(report, dict):
            continue
        for scheme, value in pairs_of(report):
            try:
                wanted.setdefault(scheme, set()).add(normalise(scheme, value))
            except InvalidIdentifier:
                continue
        local_id = str(report.get("local_identifier") or "").strip()
        if local_id:
            local_ids.add(local_id)
    # What this chunk names replaces what earlier chunks named, so the providers held do not grow with the file.
    lookups.providers = {key: found for key, found in lookups.providers.items() if key[1] in wanted.get(key[0], ())}
    named = {provider_id for holders in lookups.providers.values() for provider_id in holders}
    lookups.provider_records = {key: held for key, held in lookups.provider_records.items() if key in named}
    for scheme, values in wanted.items():
        values -= {key[1] for key in lookups.providers if key[0] == scheme}
        for chunk in _in(values):
            query = (
                select(ProviderIdentifier.scheme, ProviderIdentifier.normalised, ProviderIdentifier.provider_id)
                .where(
                    ProviderIdentifier.scheme == scheme,
                    col(ProviderIdentifier.normalised).in_(chunk),
                    col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS),
                )
                .order_by(col(ProviderIdentifier.id))
            )
            if scheme == "local":
                query = query.where(ProviderIdentifier.agency_id == lookups.agency_id)
            for found_scheme, found_value, provider_id in session.exec(query):
                holders = lookups.providers.setdefault((found_scheme, found_value), [])
                if provider_id not in holders:
                    holders.append(provider_id)
    missing = {pid for holders in lookups.providers.values() for pid in holders} - set(lookups.provider_records)
    for chunk in _in(missing):
        for provider in session.exec(select(Provider).where(col(Provider.id).in_(chunk))):
            lookups.provider_records[provider.id or 0] = provider
    for agency_id in agency_ids - set(lookups.windows):
        windows = session.exec(select(AgencyRegistration).where(AgencyRegistration.agency_id == agency_id))
        lookups.windows[agency_id] = [(w.registered_from, w.registered_to) for w in windows]
    # A chunk's results replace the previous chunk's, so the held results do not grow with the file.
    lookups.results.clear()
    lookups.absent.clear()
    for chunk in _in(local_ids):
        held = select(QAResult).where(QAResult.agency_id == lookups.agency_id, col(QAResult.local_id).in_(chunk))
        for result in session.exec(held):
            lookups.results[result.local_id or ""] = result
    lookups.absent = local_ids - set(lookups.results)


def submit_chunk(
    session: Session,
    lookups: Lookups,
    reports: Sequence[tuple[int, Any]],
    *,
    agency: Agency,
    settings: Settings,
    actor: Actor,
    dry_run: bool = False,
    may_create_providers: bool = False,
    fetched: ReportFetches | None = None,
) -> Iterator[Outcome]:
    """Each (index, report)'s outcome, in order, after one prefetch for all of them (options as submit_report's)."""
    from registry.submissions import institutions, services

    def pairs_of(report: dict[str, Any]) -> list[tuple[str, str]]:
        entries = report.get("institutions")
        if not isinstance(entries, list):
            return []
        return [pair for institution in entries for pair in institutions.identifier_pairs(institution, agency)]

    prefetch(session, lookups, [report for _, report in reports], pairs_of)
    for index, report in reports:
        outcome = services.submit_report(
            session, report, agency=agency, index=index, settings=settings, actor=actor, dry_run=dry_run,
            may_create_providers=may_create_providers, fetched=fetched,
        )  # fmt: skip
        if outcome.submission_status == "created":
            lookups.forget(outcome.local_identifier)
        yield outcome
