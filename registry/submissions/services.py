"""Reports submitted by machine in DEQAR's Submission API v2 layout, recorded through the QA services.

Each report is mapped onto a ResultInput and recorded, updated or left alone by its agency's
`local_identifier`; the rules stay in registry/qa/services.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from registry import documents
from registry.agencies.models import Agency, AgencyRegistration
from registry.audit.services import Actor
from registry.errors import NotFound, RegistryError, ValidationFailed
from registry.providers import services as providers
from registry.providers.identifiers import SCHEMES, InvalidIdentifier, normalise
from registry.providers.models import ProviderIdentifier
from registry.qa import services as qa
from registry.qa.models import QAReportFile, QAResult
from registry.settings import Settings
from registry.submissions import bulk
from registry.submissions.fetching import Fetched, ReportFetches
from registry.submissions.models import SubmissionWarning
from registry.timeutil import add_years
from registry.vocabulary import ACTIVITY_TYPES, DECISIONS, RESOLVING_ORIGINS

MAX_REPORTS_PER_REQUEST = 500
# Room for a report file at the upload limit, base64-encoded (4/3 of its size), and the report around it.
MAX_JSON_BYTES = documents.MAX_DOCUMENT_BYTES * 4 // 3 + 1024 * 1024
STATUS_NAMES = {
    "part of obligatory eqa system": "part of obligatory external QA system",
    "part of obligatory external qa system": "part of obligatory external QA system",
    "voluntary": "voluntary",
}
# DEQAR also accepts its vocabularies' numeric ids.
STATUS_IDS = {"1": "part of obligatory eqa system", "2": "voluntary"}
DECISION_IDS = {"1": DECISIONS[0], "2": DECISIONS[1], "3": DECISIONS[2], "4": DECISIONS[3]}
QF_EHEA_TO_EQF = {
    "short cycle": 5, "first cycle": 6, "second cycle": 7, "third cycle": 8, "0": 5, "1": 6, "2": 7, "3": 8,
}  # fmt: skip
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


class Problems:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


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


def _activity_type(report: dict[str, Any]) -> str | None:
    """Our activity type for DEQAR's activity name (e.g. "programme review"), or the type itself."""
    raw = report.get("activity_type") or report.get("activity") or report.get("activity_local_identifier")
    text = str(raw or "").strip().lower()
    if not text:
        return None
    if text in ACTIVITY_TYPES:
        return text
    if "joint" in text:
        return "joint programme"
    if "institution" in text and "programme" in text:
        return "institutional/programme"
    if "programme" in text or "program" in text:
        return "programme"
    if "institution" in text or "audit" in text:
        return "institutional"
    return None


EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _date(problems: Problems, name: str, value: Any, date_format: str) -> dt.date | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        day = dt.datetime.strptime(str(value).strip(), date_format).date()
    except ValueError:
        problems.add(name, f"{value!r} does not match the date format {date_format!r}")
        return None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        problems.add(name, f"{value!r} is out of range: give a year from {EARLIEST_YEAR} to {LATEST_YEAR}")
        return None
    return day


def _items(problems: Problems, name: str, value: Any) -> list[Any]:
    """A list field's items; anything but a list is an error, not a list of its characters."""
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        problems.add(name, "a list is expected")
        return []
    return value


def _lookups(institution: Any, agency: Agency) -> list[tuple[str, str]]:
    """The (scheme, value) pairs an institution entry names, in DEQAR's fields."""
    return [(scheme, value) for scheme, value, _label in _labelled_lookups(institution, agency)]


def _labelled_lookups(institution: Any, agency: Agency) -> list[tuple[str, str, str]]:
    """(scheme, value, the field it came from) for each identifier an institution entry names."""
    if not isinstance(institution, dict):
        return []
    pairs: list[tuple[str, str, str]] = []
    if institution.get("deqar_id"):
        pairs.append(("deqar", str(institution["deqar_id"]), "deqar_id"))
    if institution.get("eter_id"):
        pairs.append(("eter", str(institution["eter_id"]), "eter_id"))
    raw = institution.get("identifiers")
    entries = [(f"identifiers[{i}]", entry) for i, entry in enumerate(raw if isinstance(raw, list) else [])]
    if institution.get("identifier"):
        entries.append(
            ("identifier", {"identifier": institution["identifier"], "resource": institution.get("resource")})
        )
    for label, entry in entries:
        if not isinstance(entry, dict) or not entry.get("identifier"):
            continue
        resource = str(entry.get("resource") or "").strip().lower()
        value = str(entry["identifier"])
        if resource in SCHEMES:
            pairs.append((resource, value, label))
        elif not resource or resource == "local identifier":
            # DEQAR: an identifier without a resource is the agency's own.
            pairs.append(("local", f"{agency.acronym}:{value}", label))
        else:
            pairs.append((resource, value, label))
    return pairs


# An institution the registry does not hold yet is created from these fields (DEQAR's CSV names, plus our
# provider_type) when the token has the scope providers:create.
MASTER_DATA_FIELDS = ("name_official", "name_english", "acronym", "country", "website_link", "provider_type")
CREATE_SCOPE = "providers:create"


def has_master_data(institution: Any) -> bool:
    return isinstance(institution, dict) and bool(str(institution.get("name_official") or "").strip())


def _new_provider(
    problems: Problems, position: int, institution: dict[str, Any], agency: Agency
) -> tuple[providers.ProviderInput, list[str]] | None:
    """The master data of a provider to create, its identifiers validated and normalised; None on errors."""
    where = f"institutions[{position}]"
    before = len(problems.errors)
    for name in ("country", "provider_type"):
        if not str(institution.get(name) or "").strip():
            problems.add(f"{where}.{name}", "required to create a provider the registry does not hold")
    identifiers: list[dict[str, Any]] = []
    labels: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for scheme, value, label in _labelled_lookups(institution, agency):
        try:
            normalised = normalise(scheme, value)
        except InvalidIdentifier as error:
            problems.add(f"{where}.{label}", f"{scheme} {value!r}: {error}")
            continue
        if (scheme, normalised) in seen:
            continue
        seen[(scheme, normalised)] = label
        identifiers.append(
            {
                "scheme": scheme,
                "value": value,
                "origin": "agency",
                "agency_id": agency.id if scheme == "local" else None,
            }
        )
        labels.append(label)
    if len(problems.errors) > before:
        return None
    data = providers.ProviderInput(
        name=str(institution.get("name_official") or "").strip(),
        country=str(institution.get("country") or "").strip(),
        provider_type=str(institution.get("provider_type") or "").strip(),
        english_name=str(institution.get("name_english") or "").strip() or None,
        acronym=str(institution.get("acronym") or "").strip() or None,
        website=str(institution.get("website_link") or "").strip() or None,
        identifiers=identifiers,
    )
    return data, labels


PROVIDER_FIELDS = {"name": "name_official", "website": "website_link", "english_name": "name_english"}


def _create_provider(
    session: Session, position: int, data: providers.ProviderInput, labels: list[str], agency: Agency, actor: Actor
) -> int:
    """Create the provider (inside the report's savepoint); its field errors name the institution's fields."""
    try:
        provider = providers.create_provider(session, data, actor, created_by_agency_id=agency.id)
    except ValidationFailed as error:
        renamed: dict[str, str] = {}
        for name, message in error.errors.items():
            head, dot, rest = name.partition(".")
            if head.startswith("identifiers[") and dot:
                index = int(head[len("identifiers[") : -1])
                label = labels[index] if index < len(labels) else head
                renamed[f"institutions[{position}].{label}"] = message if rest == "value" else f"{rest}: {message}"
            else:
                renamed[f"institutions[{position}].{PROVIDER_FIELDS.get(name, name)}"] = message
        raise ValidationFailed(renamed) from None
    return provider.id or 0


def _provider_for(session: Session, pairs: list[tuple[str, str]], agency: Agency) -> tuple[int | None, list[str]]:
    tried: list[str] = []
    lookups = bulk.current(session)
    for scheme, value in pairs:
        tried.append(f"{scheme} {value}")
        try:
            normalised = normalise(scheme, value)
        except InvalidIdentifier:
            continue
        if lookups is not None and (cached := lookups.provider(scheme, normalised)) is not None:
            return cached, tried
        query = (
            select(ProviderIdentifier.provider_id)
            .where(
                ProviderIdentifier.scheme == scheme,
                ProviderIdentifier.normalised == normalised,
                col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS),
            )
            .order_by(col(ProviderIdentifier.id))
        )
        if scheme == "local":
            query = query.where(ProviderIdentifier.agency_id == agency.id)
        found = session.exec(query).first()
        if found is not None:
            return found, tried
    return None, tried


def _programmes(problems: Problems, warnings: list[str], items: Any) -> list[qa.ProgrammeInput]:
    result: list[qa.ProgrammeInput] = []
    if not isinstance(items, list):
        if items:
            problems.add("programmes", "a list of programmes is expected")
        return result
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.add(f"programmes[{index}]", "a programme is an object")
            continue
        name = str(item.get("name_primary") or item.get("name") or "").strip()
        level: int | None = None
        raw_level = item.get("eqf_level") or item.get("qf_ehea_level")
        if isinstance(raw_level, int) and not isinstance(raw_level, bool):
            level = raw_level if "eqf_level" in item else QF_EHEA_TO_EQF.get(str(raw_level))
        elif raw_level:
            text = str(raw_level).strip().lower()
            last = text.split()[-1] if text.split() else ""
            level = QF_EHEA_TO_EQF.get(text) or (int(last) if last.isdigit() and len(last) < 3 else None)
            if level is None:
                problems.add(f"programmes[{index}].qf_ehea_level", f"{raw_level!r} is not a QF-EHEA or EQF level")
        if level is None and not raw_level:
            warnings.append(f"programme {name or index!r} has no EQF level")
        identifiers = item.get("identifiers") or []
        identifier = None
        if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict):
            identifier = str(identifiers[0].get("identifier") or "") or None
        ects = item.get("ects") or item.get("workload_ects")
        result.append(
            qa.ProgrammeInput(
                name=name,
                identifier=identifier,
                ects=float(ects) if isinstance(ects, int | float) else None,
                eqf_level=level,
                isced_field=str(item.get("isced_field") or "").strip() or None,
            )
        )
    return result


def _report_files(problems: Problems, items: Any, fetched: ReportFetches | None) -> list[documents.CheckedDocument]:
    """Report files sent base64-encoded or fetched by URL before the transaction, each checked like an upload."""
    files: list[documents.CheckedDocument] = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            problems.add(f"report_files[{index}]", "a report file is an object")
            continue
        name = str(item.get("file_original_filename") or "").strip()
        if not item.get("file"):
            location = str(item.get("original_location") or "").strip()
            if not location:
                problems.add(
                    f"report_files[{index}]", "give the file base64-encoded in `file`, or its original_location"
                )
                continue
            found = fetched.get(location) if fetched is not None else Fetched(location, error="it was not fetched")
            if found.error is not None:
                problems.add(f"report_files[{index}].original_location", found.error)
                continue
            where, data, name = f"report_files[{index}].original_location", found.read(), name or found.filename
        else:
            where = f"report_files[{index}].file"
            try:
                data = base64.b64decode(str(item["file"]), validate=True)
            except (binascii.Error, ValueError):
                problems.add(where, "this is not valid base64")
                continue
        try:
            files.append(documents.check(data, name or "report.pdf", fallback_name="report"))
        except ValidationFailed as error:
            for message in error.errors.values():
                problems.add(where, message)
    return files


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


def _links(items: Any) -> list[str]:
    links = []
    for item in items if isinstance(items, list) else []:
        link = item.get("link") if isinstance(item, dict) else item
        if link:
            links.append(str(link))
    return links


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
    problems = Problems()
    warnings: list[str] = []
    for name in sorted(set(report) - KNOWN_FIELDS):
        problems.add(name, "this field is not part of the submission layout")
    named = find_agency(session, report.get("agency"))
    if named is None or named.id != agency.id:
        problems.add("agency", f"reports may only be submitted for {agency.acronym}, the token's agency")
    contributing: list[int] = []
    for reference in _items(problems, "contributing_agencies", report.get("contributing_agencies")):
        other = find_agency(session, reference)
        if other is None:
            problems.add("contributing_agencies", f"there is no agency {reference!r}")
        else:
            contributing.append(other.id or 0)
    activity_type = _activity_type(report)
    if activity_type is None:
        problems.add("activity", 'name the activity (e.g. "programme review") or one of: ' + ", ".join(ACTIVITY_TYPES))
    raw_status = str(report.get("status") or "").strip().lower()
    status = STATUS_NAMES.get(STATUS_IDS.get(raw_status, raw_status))
    if status is None:
        problems.add("status", 'choose "part of obligatory EQA system" or "voluntary"')
    decision = str(report.get("decision") or "").strip().lower()
    decision = DECISION_IDS.get(decision, decision)
    if decision not in DECISIONS:
        problems.add("decision", "choose one of: " + ", ".join(DECISIONS))
    date_format = str(report.get("date_format") or "%Y-%m-%d")
    valid_from = _date(problems, "valid_from", report.get("valid_from"), date_format)
    if valid_from is None and "valid_from" not in problems.errors:
        problems.add("valid_from", "the date the result starts is required")
    valid_to = _date(problems, "valid_to", report.get("valid_to"), date_format)
    conditions_due = _date(problems, "conditions_due", report.get("conditions_due"), date_format)
    revoked_from = _date(problems, "revoked_from", report.get("revoked_from"), date_format)
    provider_ids: list[int] = []
    to_create: dict[int, tuple[providers.ProviderInput, list[str]]] = {}
    institutions = report.get("institutions")
    if not isinstance(institutions, list) or not institutions:
        problems.add("institutions", "name at least one institution")
    else:
        for position, institution in enumerate(institutions):
            pairs = _lookups(institution, agency)
            if not pairs:
                problems.add(f"institutions[{position}]", "give a deqar_id, an eter_id or identifiers")
                continue
            provider_id, tried = _provider_for(session, pairs, agency)
            if provider_id is not None:
                provider_ids.append(provider_id)
                continue
            missing = "no provider in the registry has " + ", ".join(tried)
            if not has_master_data(institution):
                problems.add(f"institutions[{position}]", missing)
            elif not may_create_providers:
                problems.add(
                    f"institutions[{position}]",
                    f"{missing}; creating it from the master data sent needs the scope {CREATE_SCOPE!r}",
                )
            else:
                planned = _new_provider(problems, position, institution, agency)
                if planned is not None:
                    to_create[position] = planned
                    provider_ids.append(0)  # filled in when the provider is created
    programmes = _programmes(problems, warnings, report.get("programmes"))
    links = _links(report.get("report_links"))
    files = _report_files(problems, report.get("report_files"), fetched)
    if valid_from and valid_to and valid_to > add_years(valid_from, qa.DEFAULT_VALIDITY_YEARS):
        warnings.append("the validity is longer than six years")
    if valid_from and not _registered_on(session, agency.id or 0, valid_from):
        warnings.append(f"{agency.acronym} was not registered on EQAR on {valid_from.isoformat()}")
    limits = {
        name: _items(problems, name, report.get(name))
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
            new_ids = iter([_create_provider(session, p, *to_create[p], agency, actor) for p in sorted(to_create)])
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
