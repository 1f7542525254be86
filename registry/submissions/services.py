"""Reports submitted by machine in DEQAR's Submission API v2 layout, recorded through the QA services.

Each report is mapped onto a ResultInput and recorded, updated or left alone by its agency's
`local_identifier`; the rules stay in registry/qa/services.py. Reading a report's fields is in
fields.py, finding or creating its institutions in institutions.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from registry import documents
from registry.agencies.models import Agency, AgencyRegistration
from registry.audit.services import Actor
from registry.errors import NotFound, RegistryError
from registry.providers import services as providers
from registry.qa import services as qa
from registry.qa.models import QAReportFile, QAResult
from registry.settings import Settings
from registry.submissions import bulk, fields, institutions
from registry.submissions.fetching import ReportFetches
from registry.submissions.models import SubmissionWarning
from registry.timeutil import add_years
from registry.vocabulary import ACTIVITY_TYPES, DECISIONS

MAX_REPORTS_PER_REQUEST = 500
# Room for a report file at the upload limit, base64-encoded (4/3 of its size), and the report around it.
MAX_JSON_BYTES = documents.MAX_DOCUMENT_BYTES * 4 // 3 + 1024 * 1024
IGNORED_FIELDS = {"activity_group", "other_comment", "report_files_language"}
KNOWN_FIELDS = {
    "agency", "contributing_agencies", "local_identifier", "activity", "activity_local_identifier", "activity_type",
    "status", "decision", "summary", "valid_from", "valid_to", "date_format", "report_links", "report_files",
    "institutions", "programmes", "limit_eqf_levels", "limit_fields", "limit_jurisdictions", "conditions_due",
    "revoked_from",
} | IGNORED_FIELDS  # fmt: skip


@dataclass
class Outcome:
    """The answer for one report: what happened, the result's id, errors per field, warnings."""

    index: int
    local_identifier: str | None
    submission_status: str = "rejected"
    result_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "local_identifier": self.local_identifier,
            "submission_status": self.submission_status,
            "result_id": self.result_id,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def find_agency(session: Session, reference: Any) -> Agency | None:
    """An agency by acronym, DEQAR agency id or registry id."""
    text = str(reference or "").strip()
    if not text:
        return None
    lookups = bulk.current(session)
    if lookups is not None and (cached := lookups.agency(text.lower())) is not None:
        return cached
    if text.isdigit():
        found = session.exec(select(Agency).where(Agency.deqar_agency_id == int(text))).first()
        found = found or session.get(Agency, int(text))
    else:
        found = session.exec(select(Agency).where(col(Agency.acronym).ilike(text))).first()
    if lookups is not None and found is not None:
        lookups.agencies[text.lower()] = found
    return found


def _not_yet_attached(session: Session, result_id: int, files: list[documents.CheckedDocument]) -> list[Any]:
    """The files this result does not hold yet (same bytes): a report sent again attaches nothing twice.

    A file staff withdrew as uploaded in error counts as held: sending the report again does not bring it back.
    """
    held = set(session.exec(select(QAReportFile.sha256).where(QAReportFile.result_id == result_id)))
    fresh = []
    for document in files:
        if document.sha256 not in held:
            held.add(document.sha256)
            fresh.append(document)
    return fresh


def _registered_on(session: Session, agency_id: int, day: dt.date) -> bool:
    lookups = bulk.current(session)
    if lookups is not None and (cached := lookups.registered_on(agency_id, day)) is not None:
        return cached
    windows = session.exec(select(AgencyRegistration).where(AgencyRegistration.agency_id == agency_id))
    return any(w.registered_from <= day and (w.registered_to is None or day <= w.registered_to) for w in windows)


def _comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k not in {"version", "updated_at", "created_at"}}


def submit_report(
    session: Session,
    report: Any,
    *,
    agency: Agency,
    index: int,
    settings: Settings,
    actor: Actor,
    dry_run: bool = False,
    may_create_providers: bool = False,
    fetched: ReportFetches | None = None,
) -> Outcome:
    """Record, update or leave one report; a rejected report writes nothing.

    Report files named by URL must have been fetched (`fetched`) before the caller's transaction began.
    An institution the registry does not hold is created from its master data when `may_create_providers`.
    """
    if not isinstance(report, dict):
        outcome = Outcome(index, None)
        outcome.errors["report"] = ["a report is a JSON object"]
        return outcome
    local_id = str(report.get("local_identifier") or "").strip() or None
    outcome = Outcome(index, local_id)
    problems = fields.Problems()
    warnings: list[str] = []
    csv_only = {fields.CELLS_BEYOND_HEADER} if fields.cells_beyond_header(problems, report) else set()
    for name in sorted(set(report) - KNOWN_FIELDS - csv_only):
        problems.add(name, "this field is not part of the submission layout")
    named = find_agency(session, report.get("agency"))
    if named is None or named.id != agency.id:
        problems.add("agency", f"reports may only be submitted for {agency.acronym}, the token's agency")
    contributing: list[int] = []
    for reference in fields.list_items(problems, "contributing_agencies", report.get("contributing_agencies")):
        other = find_agency(session, reference)
        if other is None:
            problems.add("contributing_agencies", f"there is no agency {reference!r}")
        else:
            contributing.append(other.id or 0)
    activity_type = fields.activity_type(report)
    if activity_type is None:
        problems.add("activity", 'name the activity (e.g. "programme review") or one of: ' + ", ".join(ACTIVITY_TYPES))
    raw_status = str(report.get("status") or "").strip().lower()
    status = fields.STATUS_NAMES.get(fields.STATUS_IDS.get(raw_status, raw_status))
    if status is None:
        problems.add("status", 'choose "part of obligatory EQA system" or "voluntary"')
    decision = str(report.get("decision") or "").strip().lower()
    decision = fields.DECISION_IDS.get(decision, decision)
    if decision not in DECISIONS:
        problems.add("decision", "choose one of: " + ", ".join(DECISIONS))
    date_format = str(report.get("date_format") or "%Y-%m-%d")
    valid_from = fields.date(problems, "valid_from", report.get("valid_from"), date_format)
    if valid_from is None and "valid_from" not in problems.errors:
        problems.add("valid_from", "the date the result starts is required")
    valid_to = fields.date(problems, "valid_to", report.get("valid_to"), date_format)
    conditions_due = fields.date(problems, "conditions_due", report.get("conditions_due"), date_format)
    revoked_from = fields.date(problems, "revoked_from", report.get("revoked_from"), date_format)
    provider_ids: list[int] = []
    to_create: dict[int, tuple[providers.ProviderInput, list[str]]] = {}
    entries = report.get("institutions")
    if not isinstance(entries, list) or not entries:
        problems.add("institutions", "name at least one institution")
    else:
        for position, institution in enumerate(entries):
            pairs = institutions.identifier_pairs(institution, agency)
            if not pairs:
                problems.add(f"institutions[{position}]", "give a deqar_id, an eter_id or identifiers")
                continue
            resolution = institutions.provider_for(session, pairs, agency)
            if (conflict := resolution.conflict(session)) is not None:
                problems.add(f"institutions[{position}]", conflict)
                continue
            if resolution.provider_id is not None:
                provider_ids.append(resolution.provider_id)
                continue
            missing = "no provider in the registry has " + ", ".join(resolution.tried)
            if not institutions.has_master_data(institution):
                problems.add(f"institutions[{position}]", missing)
            elif not may_create_providers:
                problems.add(
                    f"institutions[{position}]",
                    f"{missing}; creating it from the master data sent needs the scope {institutions.CREATE_SCOPE!r}",
                )
            else:
                planned = institutions.planned_provider(problems, position, institution, agency)
                if planned is not None:
                    to_create[position] = planned
                    provider_ids.append(0)  # filled in when the provider is created
    programmes = fields.programmes(problems, warnings, report.get("programmes"))
    links = fields.links(report.get("report_links"))
    files = fields.report_files(problems, report.get("report_files"), fetched)
    if valid_from and valid_to and valid_to > add_years(valid_from, qa.DEFAULT_VALIDITY_YEARS):
        warnings.append("the validity is longer than six years")
    if valid_from and not _registered_on(session, agency.id or 0, valid_from):
        warnings.append(f"{agency.acronym} was not registered on EQAR on {valid_from.isoformat()}")
    limits = {
        name: fields.list_items(problems, name, report.get(name))
        for name in ("limit_eqf_levels", "limit_fields", "limit_jurisdictions")
    }
    existing = None
    if local_id:
        existing = _existing(session, agency, local_id)
        if existing is not None and existing.withdrawn_at is not None:
            problems.add("local_identifier", "the result with this local identifier was withdrawn; use a new one")
    if problems.errors:
        outcome.errors = problems.errors
        return outcome
    data = qa.ResultInput(
        agency_id=agency.id or 0,
        provider_ids=provider_ids,
        activity_type=activity_type or "",
        status=status or "",
        decision=decision,
        valid_from=valid_from,
        valid_to=valid_to,
        conditions_due=conditions_due,
        local_id=local_id,
        contributing_agency_ids=contributing,
        limit_eqf_levels=limits["limit_eqf_levels"],
        limit_fields=[str(code) for code in limits["limit_fields"]],
        limit_jurisdictions=[str(code) for code in limits["limit_jurisdictions"]],
        programmes=programmes,
        report_links=links,
        summary=str(report.get("summary") or "").strip() or None,
    )
    savepoint = session.begin_nested()
    try:
        if to_create:
            new_ids = iter(
                [institutions.create_provider(session, p, *to_create[p], agency, actor) for p in sorted(to_create)]
            )
            data.provider_ids = [pid or next(new_ids) for pid in provider_ids]
            created = ", ".join(f"institutions[{p}] ({to_create[p][0].name})" for p in sorted(to_create))
            warnings.append(f"a provider new to the registry {'would be' if dry_run else 'was'} created for {created}")
        if existing is None:
            # _existing() has just found the local identifier free: record_result need not ask again.
            result = qa.record_result(session, data, actor, local_id_free=True)
            outcome.submission_status = "created"
        else:
            files = _not_yet_attached(session, existing.id or 0, files)
            before = _comparable(qa.result_snapshot(session, existing))
            result = qa.update_result(session, existing, data, actor, existing.version)
            session.flush()
            if _comparable(qa.result_snapshot(session, result)) == before and not files and not revoked_from:
                savepoint.rollback()
                session.refresh(existing)
                outcome.submission_status = "unchanged"
                outcome.result_id = existing.id
                outcome.warnings = warnings
                return outcome
            outcome.submission_status = "updated"
        if revoked_from and result.revoked_from != revoked_from:
            qa.revoke_result(session, result, revoked_from=revoked_from, actor=actor)
        if not dry_run:
            for document in files:
                qa.attach_report_file(
                    session, result, filename=document.filename, content=document.data, settings=settings, actor=actor
                )
        for stale in warnings_of(session, result.id or 0) if existing is not None else ():
            session.delete(stale)
        for message in warnings:
            session.add(SubmissionWarning(result_id=result.id or 0, message=message))
        session.flush()
    except RegistryError as error:
        savepoint.rollback()
        outcome.submission_status = "rejected"
        outcome.errors = {_deqar_field(name): [message] for name, message in error.errors.items()} or {
            "report": [error.detail]
        }
        return outcome
    outcome.result_id = result.id
    outcome.warnings = warnings
    if dry_run:
        savepoint.rollback()
        if outcome.submission_status == "created":
            outcome.result_id = None
    else:
        savepoint.commit()
    return outcome


def _existing(session: Session, agency: Agency, local_id: str) -> QAResult | None:
    lookups = bulk.current(session)
    if lookups is not None:
        known, found = lookups.existing(local_id)
        if known:
            return found
    return session.exec(select(QAResult).where(QAResult.agency_id == agency.id, QAResult.local_id == local_id)).first()


def _deqar_field(name: str) -> str:
    return {"local_id": "local_identifier", "provider_ids": "institutions", "activity_type": "activity"}.get(name, name)


def withdraw_submission(session: Session, *, agency: Agency, local_identifier: str, actor: Actor) -> QAResult:
    result = session.exec(
        select(QAResult).where(QAResult.agency_id == agency.id, QAResult.local_id == local_identifier)
    ).first()
    if result is None:
        raise NotFound(f"{agency.acronym} has no result with local identifier {local_identifier!r}.")
    return qa.withdraw_result(session, result, reason="withdrawn through the submission API", actor=actor)


def warnings_of(session: Session, result_id: int) -> list[SubmissionWarning]:
    return list(
        session.exec(
            select(SubmissionWarning)
            .where(SubmissionWarning.result_id == result_id)
            .order_by(col(SubmissionWarning.id))
        )
    )


def warnings_by_result(session: Session, result_ids: list[int]) -> dict[int, list[str]]:
    """The submission warnings of these results, for the staff pages."""
    found: dict[int, list[str]] = {}
    query = select(SubmissionWarning).where(col(SubmissionWarning.result_id).in_(result_ids))
    for warning in session.exec(query.order_by(col(SubmissionWarning.id))):
        found.setdefault(warning.result_id, []).append(warning.message)
    return found


def submitted_result(session: Session, *, agency: Agency, local_identifier: str) -> dict[str, Any]:
    """What the registry holds for one of the agency's reports, with its warnings."""
    result = session.exec(
        select(QAResult).where(QAResult.agency_id == agency.id, QAResult.local_id == local_identifier)
    ).first()
    if result is None:
        raise NotFound(f"{agency.acronym} has no result with local identifier {local_identifier!r}.")
    return {
        "local_identifier": local_identifier,
        "result_id": result.id,
        "withdrawn": result.withdrawn_at is not None,
        "result": qa.result_snapshot(session, result),
        "warnings": [w.message for w in warnings_of(session, result.id or 0)],
    }
