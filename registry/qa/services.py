"""External QA results (ESG Part 2): recording, withdrawing and revoking them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import insert
from sqlmodel import Session, col, select

from registry import derived, documents
from registry.agencies.models import Agency
from registry.audit.services import Actor, mark_in_error, record_event, snapshot
from registry.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from registry.providers.identifiers import InvalidIdentifier, normalise
from registry.providers.models import Provider
from registry.qa.models import (
    QAReportFile,
    QAResult,
    QAResultContributingAgency,
    QAResultProgramme,
    QAResultProvider,
)
from registry.reference.models import Country
from registry.settings import Settings
from registry.timeutil import add_years, utcnow
from registry.vocabulary import ACTIVITY_TYPES, DECISIONS, EQF_LEVELS, INSTITUTION_WIDE_ACTIVITIES, STATUSES

DEFAULT_VALIDITY_YEARS = 6  # DEQAR's default when a report names no end date
_ISCED_F = re.compile(r"^\d{2,4}$")


@dataclass
class ProgrammeInput:
    name: str
    identifier: str | None = None
    ects: float | None = None
    eqf_level: int | None = None
    isced_field: str | None = None
    full_degree: bool = True


@dataclass
class ResultInput:
    agency_id: int
    provider_ids: list[int]
    activity_type: str
    status: str
    decision: str
    valid_from: Any
    valid_to: Any = None
    conditions_due: Any = None
    local_id: str | None = None
    contributing_agency_ids: list[int] = field(default_factory=list)
    limit_eqf_levels: list[int] = field(default_factory=list)
    limit_fields: list[str] = field(default_factory=list)
    limit_jurisdictions: list[str] = field(default_factory=list)
    programmes: list[ProgrammeInput] = field(default_factory=list)
    report_links: list[str] = field(default_factory=list)
    summary: str | None = None


def get_result(session: Session, result_id: int) -> QAResult:
    result = session.get(QAResult, result_id)
    if result is None:
        raise NotFound(f"There is no QA result with id {result_id}.")
    return result


def _validate(
    session: Session, data: ResultInput, result_id: int | None, local_id_free: bool = False
) -> dict[str, Any]:
    errors = FieldErrors()
    if session.get(Agency, data.agency_id) is None:
        errors.add("agency_id", f"there is no agency with id {data.agency_id}")
    if not data.provider_ids:
        errors.add("provider_ids", "a result concerns at least one provider")
    for provider_id in data.provider_ids:
        if session.get(Provider, provider_id) is None:
            errors.add("provider_ids", f"there is no provider with id {provider_id}")
    for agency_id in data.contributing_agency_ids:
        if session.get(Agency, agency_id) is None:
            errors.add("contributing_agency_ids", f"there is no agency with id {agency_id}")
    activity_type = errors.choice("activity_type", data.activity_type, ACTIVITY_TYPES)
    errors.choice("status", data.status, STATUSES)
    errors.choice("decision", data.decision, DECISIONS)
    valid_from = errors.date("valid_from", data.valid_from, required=True)
    valid_to = errors.date("valid_to", data.valid_to)
    if valid_from and valid_to and valid_to <= valid_from:
        errors.add("valid_to", "the end of validity must be after its start")
    conditions_due = errors.date("conditions_due", data.conditions_due)
    if conditions_due and valid_from and conditions_due < valid_from:
        errors.add("conditions_due", "the conditions follow-up cannot be due before the result starts")
    levels: list[int] = []
    for level in data.limit_eqf_levels:
        if not isinstance(level, int) or level not in EQF_LEVELS:
            errors.add("limit_eqf_levels", f"{level!r} is not an EQF level from 5 to 8")
        else:
            levels.append(level)
    for code in data.limit_fields:
        if not isinstance(code, str) or not _ISCED_F.match(code):
            errors.add("limit_fields", f"{code!r} is not an ISCED-F code (2 to 4 digits, e.g. 04 or 0413)")
    jurisdictions = [str(code).upper() for code in data.limit_jurisdictions]
    for code in jurisdictions:
        if session.get(Country, code) is None:
            errors.add("limit_jurisdictions", f"{code!r} is not an ISO 3166 two-letter country code")
    links: list[str] = []
    for link in data.report_links:
        try:
            links.append(normalise("url", link))
        except InvalidIdentifier as error:
            errors.add("report_links", f"{link!r}: {error}")
    if activity_type and activity_type not in INSTITUTION_WIDE_ACTIVITIES and not data.programmes:
        errors.add("programmes", "a programme-level result names the programmes or micro-credentials it covers")
    for index, programme in enumerate(data.programmes):
        if not (programme.name or "").strip():
            errors.add(f"programmes[{index}].name", "a programme needs a name")
        if programme.eqf_level is not None and programme.eqf_level not in EQF_LEVELS:
            errors.add(f"programmes[{index}].eqf_level", "the EQF level must be from 5 to 8")
        if programme.isced_field and not _ISCED_F.match(programme.isced_field):
            errors.add(f"programmes[{index}].isced_field", "an ISCED-F code has 2 to 4 digits")
        if programme.ects is not None and not 0 < programme.ects <= 600:
            errors.add(f"programmes[{index}].ects", "the workload must be between 0 and 600 ECTS")
    local_id = (data.local_id or "").strip() or None
    if local_id and not local_id_free:
        clash = session.exec(
            select(QAResult.id).where(QAResult.agency_id == data.agency_id, QAResult.local_id == local_id)
        ).first()
        if clash is not None and clash != result_id:
            errors.add("local_id", f"this agency already has a result with local id {local_id!r}")
    errors.raise_if_any()
    assert valid_from is not None
    return {
        "valid_from": valid_from,
        "valid_to": valid_to or add_years(valid_from, DEFAULT_VALIDITY_YEARS),
        "conditions_due": conditions_due,
        "limit_eqf_levels": sorted(set(levels)),
        "limit_fields": sorted(set(data.limit_fields)),
        "limit_jurisdictions": sorted(set(jurisdictions)),
        "report_links": links,
        "local_id": local_id,
    }


def record_result(
    session: Session, data: ResultInput, actor: Actor, *, is_demo: bool = False, local_id_free: bool = False
) -> QAResult:
    """local_id_free: the caller has just found that the agency holds no result with this local id."""
    clean = _validate(session, data, None, local_id_free)
    result = QAResult(
        agency_id=data.agency_id,
        activity_type=data.activity_type,
        status=data.status,
        decision=data.decision,
        summary=data.summary,
        is_demo=is_demo,
        **clean,
    )
    session.add(result)
    session.flush()
    _replace_links(session, result, data, fresh=True)
    record_event(session, actor, "result.record", result, after=_fresh_snapshot(result, data))
    return result


def _fresh_snapshot(result: QAResult, data: ResultInput) -> dict[str, Any]:
    """result_snapshot of a result _replace_links(fresh=True) has just linked, without reading the links back."""
    after = snapshot(result) or {}
    after["provider_ids"] = sorted(set(data.provider_ids))
    after["programmes"] = [
        {"name": p.name.strip(), "identifier": (p.identifier or "").strip() or None, "eqf_level": p.eqf_level}
        for p in data.programmes
    ]
    return after


def update_result(
    session: Session, result: QAResult, data: ResultInput, actor: Actor, expected_version: int
) -> QAResult:
    if result.version != expected_version:
        raise Conflict(
            f"This result was changed by someone else (version {result.version}, you edited version "
            f"{expected_version}). Reload it and apply your change again."
        )
    if data.agency_id != result.agency_id:
        raise ValidationFailed({"agency_id": "a result stays with the agency that recorded it"})
    before = result_snapshot(session, result)
    clean = _validate(session, data, result.id)
    for key, value in clean.items():
        setattr(result, key, value)
    result.activity_type = data.activity_type
    result.status = data.status
    result.decision = data.decision
    result.summary = data.summary
    result.version += 1
    result.updated_at = utcnow()
    session.add(result)
    _replace_links(session, result, data)
    record_event(session, actor, "result.update", result, before=before, after=result_snapshot(session, result))
    return result


def _replace_links(session: Session, result: QAResult, data: ResultInput, *, fresh: bool = False) -> None:
    """fresh: the result was inserted just now and has no links yet."""
    result_id = result.id or 0
    if fresh:
        _insert_links(session, result_id, data)
        return
    for model in (QAResultProvider, QAResultContributingAgency, QAResultProgramme):
        for row in session.exec(select(model).where(model.result_id == result_id)):  # type: ignore[attr-defined]
            session.delete(row)
    session.flush()
    for provider_id in sorted(set(data.provider_ids)):
        session.add(QAResultProvider(result_id=result_id, provider_id=provider_id))
    for agency_id in sorted(set(data.contributing_agency_ids) - {data.agency_id}):
        session.add(QAResultContributingAgency(result_id=result_id, agency_id=agency_id))
    for programme in data.programmes:
        session.add(
            QAResultProgramme(
                result_id=result_id,
                name=programme.name.strip(),
                identifier=(programme.identifier or "").strip() or None,
                ects=programme.ects,
                eqf_level=programme.eqf_level,
                isced_field=programme.isced_field,
                full_degree=programme.full_degree,
            )
        )
    session.flush()


def _insert_links(session: Session, result_id: int, data: ResultInput) -> None:
    """A new result's links, one executemany per table (bulk imports create thousands of results)."""
    providers = sorted(set(data.provider_ids))
    contributing = sorted(set(data.contributing_agency_ids) - {data.agency_id})
    rows: list[tuple[Any, list[dict[str, Any]]]] = [
        (QAResultProvider, [{"result_id": result_id, "provider_id": provider_id} for provider_id in providers]),
        (QAResultContributingAgency, [{"result_id": result_id, "agency_id": agency_id} for agency_id in contributing]),
        (
            QAResultProgramme,
            [
                {
                    "result_id": result_id,
                    "name": programme.name.strip(),
                    "identifier": (programme.identifier or "").strip() or None,
                    "ects": programme.ects,
                    "eqf_level": programme.eqf_level,
                    "isced_field": programme.isced_field,
                    "full_degree": programme.full_degree,
                }
                for programme in data.programmes
            ],
        ),
    ]
    # On the session's connection: no ORM statement handling for a plain executemany.
    connection = session.connection()
    for model, values in rows:
        if values:
            connection.execute(insert(model.__table__), values)
    # Written past the ORM: name what changed for the derived state (registry/derived.py).
    derived.touch(session, results=[result_id], providers=providers)


def withdraw_result(session: Session, result: QAResult, *, reason: str, actor: Actor) -> QAResult:
    """A wrong record is withdrawn: excluded from every verdict, kept for audit."""
    errors = FieldErrors()
    text = errors.text("reason", reason, max_length=2000)
    if result.withdrawn_at is not None:
        errors.add("reason", "this result is already withdrawn")
    errors.raise_if_any()
    before = snapshot(result)
    result.withdrawn_at = utcnow()
    result.withdrawn_reason = text
    result.withdrawn_by_user_id = actor.user_id
    result.version += 1
    session.add(result)
    record_event(session, actor, "result.withdraw", result, before=before)
    return result


def revoke_result(session: Session, result: QAResult, *, revoked_from: Any, actor: Actor) -> QAResult:
    """An accreditation taken back: verdicts before the date are unchanged."""
    errors = FieldErrors()
    day = errors.date("revoked_from", revoked_from, required=True)
    if day and day <= result.valid_from:
        errors.add("revoked_from", "a result can only be revoked from a day after it started; withdraw it instead")
    elif day and day > result.valid_to:
        errors.add(
            "revoked_from",
            f"the result already ended on {result.valid_to}; a revocation must start on or before that day",
        )
    if result.withdrawn_at is not None:
        errors.add("revoked_from", "this result is withdrawn; it counts in no verdict and cannot be revoked")
    errors.raise_if_any()
    before = snapshot(result)
    result.revoked_from = day
    result.version += 1
    session.add(result)
    record_event(session, actor, "result.revoke", result, before=before)
    return result


def provider_ids(session: Session, result_id: int) -> list[int]:
    return list(
        session.exec(
            select(QAResultProvider.provider_id)
            .where(QAResultProvider.result_id == result_id)
            .order_by(col(QAResultProvider.provider_id))
        )
    )


def programmes(session: Session, result_id: int) -> list[QAResultProgramme]:
    return list(
        session.exec(
            select(QAResultProgramme)
            .where(QAResultProgramme.result_id == result_id)
            .order_by(col(QAResultProgramme.id))
        )
    )


def results_for_provider(session: Session, provider_id: int) -> list[QAResult]:
    return list(
        session.exec(
            select(QAResult)
            .join(QAResultProvider, col(QAResultProvider.result_id) == QAResult.id)
            .where(QAResultProvider.provider_id == provider_id)
            .order_by(col(QAResult.valid_from).desc())
        )
    )


def result_snapshot(session: Session, result: QAResult) -> dict[str, Any]:
    data = snapshot(result) or {}
    data["provider_ids"] = provider_ids(session, result.id or 0)
    data["programmes"] = [
        {"name": p.name, "identifier": p.identifier, "eqf_level": p.eqf_level}
        for p in programmes(session, result.id or 0)
    ]
    return data


def covering_agencies(session: Session, provider_id: int) -> set[int]:
    """Agencies with a standing (not withdrawn) result for this provider: the ones that review it."""
    return {result.agency_id for result in results_for_provider(session, provider_id) if result.withdrawn_at is None}


REPORT_AREA = "reports"


def attach_report_file(
    session: Session, result: QAResult, *, filename: str, content: BinaryIO | bytes, settings: Settings, actor: Actor
) -> QAReportFile:
    """Keep the agency's report with the result; reports are public, like DEQAR's."""
    if result.withdrawn_at is not None:
        raise ValidationFailed({"file": "this result is withdrawn; it takes no more reports"})
    document = documents.check(content, filename, fallback_name="report")
    documents.store(settings, REPORT_AREA, document)
    report = QAReportFile(
        result_id=result.id or 0,
        filename=document.filename,
        content_type=document.media_type,
        size=len(document.data),
        sha256=document.sha256,
        storage_path=str(documents.storage_path(settings, REPORT_AREA, document.sha256).relative_to(settings.var_dir)),
    )
    session.add(report)
    session.flush()
    record_event(session, actor, "result.report_file", report)
    return report


def withdraw_report_file(session: Session, report: QAReportFile, *, reason: str, actor: Actor) -> QAReportFile:
    """A file uploaded in error: no longer offered to verifiers, kept (row and bytes) for audit."""
    mark_in_error(
        session,
        report,
        reason=reason,
        actor=actor,
        event="result.report_file_withdraw",
        mark="withdrawn",
        already="this file is already withdrawn",
    )
    return report


def get_report_file(session: Session, result_id: int, file_id: int) -> QAReportFile:
    report = session.get(QAReportFile, file_id)
    if report is None or report.result_id != result_id:
        raise NotFound(f"Result {result_id} has no report file {file_id}.")
    return report


def report_files(session: Session, result_id: int) -> list[QAReportFile]:
    return list(
        session.exec(select(QAReportFile).where(QAReportFile.result_id == result_id).order_by(col(QAReportFile.id)))
    )


def read_report_file(session: Session, settings: Settings, file_id: int) -> tuple[QAReportFile, bytes]:
    report = session.get(QAReportFile, file_id)
    if report is None or report.withdrawn_at is not None:
        raise NotFound(f"There is no report file with id {file_id}.")
    return report, documents.read(settings, REPORT_AREA, report.sha256)
