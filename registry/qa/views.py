"""Staff pages for external QA results: record, withdraw, revoke."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session, select

from registry.accounts.guards import (
    EDITOR,
    ensure_can_change_result,
    principal_of,
    recordable_agencies,
    requires,
)
from registry.agencies.services import list_agencies
from registry.errors import Conflict, FieldErrors, ValidationFailed
from registry.flash import done
from registry.forms import FormData, codes, form_page, lines, text, values
from registry.providers import lookup
from registry.providers.services import display_name, get_provider
from registry.qa import services
from registry.qa.models import QAResult, QAResultContributingAgency
from registry.qa.services import ProgrammeInput, ResultInput
from registry.vocabulary import ACTIVITY_TYPES, DECISIONS, EQF_LEVELS, STATUSES
from registry.web import Database, DatabaseDep

PROGRAMME_HELP = "One per line: name | identifier | EQF level | ECTS | ISCED-F field | full or partial"


def parse_programmes(raw: list[str], errors: FieldErrors) -> list[ProgrammeInput]:
    """Programme lines as typed in the form; a bad number is reported with its line."""
    programmes = []
    for number, line in enumerate(raw, start=1):
        parts = [part.strip() for part in line.split("|")] + [""] * 6
        name, identifier, level, ects, field, extent = parts[:6]
        try:
            programmes.append(
                ProgrammeInput(
                    name=name,
                    identifier=identifier or None,
                    eqf_level=int(level) if level else None,
                    ects=float(ects.replace(",", ".")) if ects else None,
                    isced_field=field or None,
                    full_degree=extent.lower() != "partial",
                )
            )
        except ValueError:
            errors.add("programmes", f"line {number}: the EQF level and ECTS must be numbers")
    return programmes


def _int_list(items: list[str], field: str, errors: FieldErrors) -> list[int]:
    numbers = []
    for item in items:
        try:
            numbers.append(int(item))
        except ValueError:
            errors.add(field, f"{item!r} is not a number")
    return numbers


def result_input(session: Session, provider_id: int, data: dict[str, Any]) -> ResultInput:
    """The form's fields as the service's input; malformed numbers fail like the service's own checks."""
    errors = FieldErrors()
    agency = _int_list([text(data, "agency_id")] if text(data, "agency_id") else [], "agency_id", errors)
    # Joint programmes name their other providers, one per line, as people know them.
    joint, unresolved = lookup.choose_many(session, lines(data, "other_providers"), "other_providers")
    for key, message in unresolved.items():
        errors.add(key, message)
    contributing = _int_list(values(data, "contributing_agency_ids"), "contributing_agency_ids", errors)
    levels = _int_list(values(data, "limit_eqf_levels"), "limit_eqf_levels", errors)
    programmes = parse_programmes(lines(data, "programmes"), errors)
    if not agency:
        errors.add("agency_id", "choose the agency that took the decision")
    errors.raise_if_any()
    return ResultInput(
        agency_id=agency[0],
        provider_ids=[provider_id, *joint],
        activity_type=text(data, "activity_type"),
        status=text(data, "status"),
        decision=text(data, "decision"),
        valid_from=text(data, "valid_from") or None,
        valid_to=text(data, "valid_to") or None,
        conditions_due=text(data, "conditions_due") or None,
        local_id=text(data, "local_id") or None,
        contributing_agency_ids=contributing,
        limit_eqf_levels=levels,
        limit_fields=codes(data, "limit_fields"),
        limit_jurisdictions=codes(data, "limit_jurisdictions"),
        programmes=programmes,
        report_links=lines(data, "report_links"),
        summary=text(data, "summary") or None,
    )


def _programme_errors(error: ValidationFailed) -> ValidationFailed:
    # The form has one programmes box; "programmes[1].name" is shown there as "line 2: ...".
    merged: dict[str, str] = {}
    for key, message in error.errors.items():
        if key.startswith("programmes["):
            index = int(key[len("programmes[") : key.index("]")])
            merged.setdefault("programmes", f"line {index + 1}: {message}")
        else:
            merged[key] = message
    return ValidationFailed(merged)


def changeable_result(session: Session, request: Request[Any, Any, Any], result_id: FromPath[int]) -> dict[str, Any]:
    """The result and its providers, once the signed-in user is known to be allowed to change it."""
    result = services.get_result(session, result_id)
    ensure_can_change_result(principal_of(request), result)
    provider_ids = services.provider_ids(session, result_id)
    return {
        "result": result,
        "provider_id": provider_ids[0] if provider_ids else None,
        "providers": [(pid, display_name(session, pid)) for pid in provider_ids],
    }


class ResultPages(Controller):
    path = "/staff"
    include_in_schema = False
    guards = [requires(EDITOR)]

    def _context(self, session: Session, request: Request[Any, Any, Any], provider_id: int) -> dict[str, Any]:
        agencies = list_agencies(session)
        allowed = recordable_agencies(principal_of(request), [a.id or 0 for a in agencies])
        return {
            "provider_id": provider_id,
            "name": display_name(session, get_provider(session, provider_id).id or 0),
            "agencies": [a for a in agencies if a.id in allowed],
            "agency_options": [(a.id, a.acronym) for a in agencies],
            "activity_types": ACTIVITY_TYPES,
            "statuses": STATUSES,
            "decisions": DECISIONS,
            "eqf_levels": EQF_LEVELS,
            "programme_help": PROGRAMME_HELP,
        }

    @get("/providers/{provider_id:int}/results/new", sync_to_thread=True)
    def new(self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = self._context(session, request, provider_id)
        return Template("qa/result_form.html", context={**context, "values": {}, "errors": {}})

    @post("/providers/{provider_id:int}/results", sync_to_thread=True)
    def record(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)
        try:
            with db.write() as session:
                get_provider(session, provider_id)
                result = result_input(session, provider_id, data)
                if not recordable_agencies(principal, [result.agency_id]):
                    raise PermissionDeniedException("You may only record results of your own agency.")
                recorded = services.record_result(session, result, principal.actor)
        except ValidationFailed as error:
            with db.read() as session:
                context = self._context(session, request, provider_id)
            return form_page("qa/result_form.html", context, data, _programme_errors(error))
        return done(request, f"/staff/providers/{provider_id}", f"Result #{recorded.id} recorded.")

    def _result_context(self, session: Session, request: Request[Any, Any, Any], result_id: int) -> dict[str, Any]:
        return changeable_result(session, request, result_id)

    def _result_form(
        self,
        request: Request[Any, Any, Any],
        db: Database,
        result_id: int,
        action: str,
        data: dict[str, Any],
    ) -> Template | Redirect:
        actor = principal_of(request).actor
        try:
            with db.write() as session:
                context = self._result_context(session, request, result_id)
                if action == "withdraw":
                    services.withdraw_result(session, context["result"], reason=text(data, "reason"), actor=actor)
                else:
                    services.revoke_result(
                        session, context["result"], revoked_from=text(data, "revoked_from"), actor=actor
                    )
        except ValidationFailed as error:
            with db.read() as session:
                context = self._result_context(session, request, result_id)
            return form_page(f"qa/{action}.html", context, data, error)
        message = (
            f"Result #{result_id} withdrawn."
            if action == "withdraw"
            else f"Result #{result_id} revoked from {text(data, 'revoked_from')}."
        )
        return done(request, f"/staff/providers/{context['provider_id']}", message)

    @get("/results/{result_id:int}/withdraw", sync_to_thread=True)
    def withdraw_form(self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = self._result_context(session, request, result_id)
        return Template("qa/withdraw.html", context={**context, "values": {}, "errors": {}})

    @post("/results/{result_id:int}/withdraw", sync_to_thread=True)
    def withdraw(
        self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        return self._result_form(request, db, result_id, "withdraw", data)

    @get("/results/{result_id:int}/revoke", sync_to_thread=True)
    def revoke_form(self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = self._result_context(session, request, result_id)
        return Template("qa/revoke.html", context={**context, "values": {}, "errors": {}})

    @post("/results/{result_id:int}/revoke", sync_to_thread=True)
    def revoke(
        self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        return self._result_form(request, db, result_id, "revoke", data)

    def _edit_context(self, session: Session, request: Request[Any, Any, Any], result_id: int) -> dict[str, Any]:
        own = self._result_context(session, request, result_id)
        return {**self._context(session, request, own["provider_id"]), **own, "result_id": result_id}

    @get("/results/{result_id:int}/edit", sync_to_thread=True)
    def edit_form(self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = self._edit_context(session, request, result_id)
            current = form_values(session, context["result"])
        return Template("qa/result_form.html", context={**context, "values": current, "errors": {}})

    @post("/results/{result_id:int}/edit", sync_to_thread=True)
    def edit(
        self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)
        try:
            with db.write() as session:
                context = self._edit_context(session, request, result_id)
                result = context["result"]
                version = int(text(data, "version")) if text(data, "version").isdigit() else 0
                services.update_result(
                    session, result, result_input(session, context["provider_id"], data), principal.actor, version
                )
        except Conflict as error:
            # Show what the other person changed next to what was typed, and offer to save over the new version.
            with db.read() as session:
                context = self._edit_context(session, request, result_id)
                current = form_values(session, context["result"])
            typed = {key: data.get(key, "") for key in current if key != "version"}
            differences = [
                (key, current[key], typed[key]) for key in typed if _comparable(current[key]) != _comparable(typed[key])
            ]
            return Template(
                "qa/result_form.html",
                context={
                    **context,
                    "values": {**typed, "version": current["version"]},
                    "errors": {"form": error.detail},
                    "conflict": differences,
                },
                status_code=409,
            )
        except ValidationFailed as error:
            with db.read() as session:
                context = self._edit_context(session, request, result_id)
            return form_page("qa/result_form.html", context, data, _programme_errors(error))
        return done(request, f"/staff/providers/{context['provider_id']}", f"Result #{result_id} saved.")


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(str(item) for item in value)
    return str(value or "").strip().replace("\r\n", "\n")


def form_values(session: Session, result: QAResult) -> dict[str, Any]:
    """A stored result as the form's fields, so an edit starts from what is recorded."""
    provider_ids = services.provider_ids(session, result.id or 0)
    contributing = session.exec(
        select(QAResultContributingAgency.agency_id).where(QAResultContributingAgency.result_id == result.id)
    )
    lines_ = [
        " | ".join(
            [
                p.name,
                p.identifier or "",
                str(p.eqf_level or ""),
                f"{p.ects:g}" if p.ects is not None else "",
                p.isced_field or "",
                "full" if p.full_degree else "partial",
            ]
        )
        for p in services.programmes(session, result.id or 0)
    ]
    return {
        "agency_id": str(result.agency_id),
        "activity_type": result.activity_type,
        "status": result.status,
        "decision": result.decision,
        "valid_from": result.valid_from.isoformat(),
        "valid_to": result.valid_to.isoformat(),
        "conditions_due": result.conditions_due.isoformat() if result.conditions_due else "",
        "local_id": result.local_id or "",
        "other_providers": "\n".join(str(lookup.described(session, pid)["label"]) for pid in provider_ids[1:]),
        "contributing_agency_ids": [str(agency) for agency in contributing],
        "limit_eqf_levels": [str(level) for level in result.limit_eqf_levels],
        "limit_fields": ", ".join(result.limit_fields),
        "limit_jurisdictions": ", ".join(result.limit_jurisdictions),
        "programmes": "\n".join(lines_),
        "report_links": "\n".join(result.report_links),
        "summary": result.summary or "",
        "version": result.version,
    }
