"""Self-assessment screens: provider staff write and submit them, agency reviewers accept or return them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session

from registry import documents
from registry.accounts.guards import Principal, principal_of, signed_in
from registry.accounts.roles import memberships
from registry.assessments import evidence as evidence_files
from registry.assessments import services
from registry.assessments.models import EvidenceFile, SelfAssessment
from registry.errors import Conflict, NotFound, PermissionDenied, RegistryError, ValidationFailed
from registry.forms import FormData, MultipartData, form_page, lines, see_other, text, uploaded_file
from registry.providers.services import display_name, get_provider
from registry.qa.services import covering_agencies
from registry.reference.services import esg_part
from registry.vocabulary import ASSESSMENT_RATINGS
from registry.web import Database, DatabaseDep, SettingsDep


def _ensure_can_see(session: Session, principal: Principal, provider_id: int) -> None:
    """The provider's own staff, operators, and staff of agencies that have reviewed the provider."""
    if principal.is_operator or provider_id in principal.provider_ids():
        return
    if principal.agency_ids() & covering_agencies(session, provider_id):
        return
    raise PermissionDeniedException("Only the provider, the agencies that review it and operators see this.")


def _ensure_own(principal: Principal, provider_id: int) -> None:
    # DESIGN §4: provider staff submit their self-assessments; nobody writes them on a provider's behalf.
    if provider_id not in principal.provider_ids():
        raise PermissionDeniedException("Only the provider's own staff write its self-assessment.")


def _may_review(session: Session, principal: Principal, assessment: SelfAssessment) -> bool:
    try:
        services.check_reviewer(session, principal.user_id, assessment.provider_id)
    except PermissionDenied:
        return False
    return True


def _version_context(session: Session, principal: Principal, assessment: SelfAssessment) -> dict[str, Any]:
    _ensure_can_see(session, principal, assessment.provider_id)
    rows = services.entries(session, assessment)
    files = evidence_files.evidence_files(session, assessment)
    return {
        "assessment": assessment,
        "provider_name": display_name(session, assessment.provider_id),
        "standards": esg_part(session, 1),
        "entries": rows,
        "ratings": ASSESSMENT_RATINGS,
        "files": files,
        "editable": assessment.state == "draft" and assessment.provider_id in principal.provider_ids(),
        "may_review": assessment.state == "submitted" and _may_review(session, principal, assessment),
    }


def _entry_values(context: dict[str, Any]) -> dict[str, Any]:
    """The stored answers as form values, so the form opens with what was saved."""
    shown: dict[str, Any] = {"version": str(context["assessment"].version)}
    for code, entry in context["entries"].items():
        shown[f"{code}.rating"] = entry.rating or ""
        shown[f"{code}.narrative"] = entry.narrative or ""
        shown[f"{code}.evidence_links"] = "\n".join(entry.evidence_links)
    return shown


def _changes(data: dict[str, Any], codes: list[str]) -> dict[str, dict[str, Any]]:
    return {
        code: {
            "rating": text(data, f"{code}.rating") or None,
            "narrative": text(data, f"{code}.narrative") or None,
            "evidence_links": lines(data, f"{code}.evidence_links"),
        }
        for code in codes
    }


def _version(text_value: str) -> int:
    return int(text_value) if text_value.isdigit() else -1


class SelfAssessmentPages(Controller):
    path = "/staff"
    include_in_schema = False
    guards = [signed_in]

    @get("/providers/{provider_id:int}/self-assessment", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        principal = principal_of(request)
        with db.read() as session:
            get_provider(session, provider_id)
            _ensure_can_see(session, principal, provider_id)
            versions = services.versions(session, provider_id)
            context = {
                "provider_id": provider_id,
                "provider_name": display_name(session, provider_id),
                "versions": versions,
                "may_start": provider_id in principal.provider_ids()
                and not any(v.state in ("draft", "submitted") for v in versions),
            }
        return Template("assessments/index.html", context=context)

    @post("/providers/{provider_id:int}/self-assessment", sync_to_thread=True)
    def start(self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int]) -> Redirect:
        principal = principal_of(request)
        _ensure_own(principal, provider_id)
        with db.write() as session:
            draft = services.start_draft(session, get_provider(session, provider_id), principal.actor)
        return see_other(f"/staff/self-assessments/{draft.id}")

    @get("/self-assessments/{assessment_id:int}", sync_to_thread=True)
    def version(self, request: Request[Any, Any, Any], db: DatabaseDep, assessment_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = _version_context(session, principal_of(request), services.get_assessment(session, assessment_id))
        return Template("assessments/version.html", context={**context, "values": _entry_values(context), "errors": {}})

    @post("/self-assessments/{assessment_id:int}", sync_to_thread=True)
    def save(
        self, request: Request[Any, Any, Any], db: DatabaseDep, assessment_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        """Save the draft, and with action=submit hand it to the agency in the same step."""
        principal = principal_of(request)
        submitting = text(data, "action") == "submit"
        try:
            with db.write() as session:
                assessment = services.get_assessment(session, assessment_id)
                _ensure_own(principal, assessment.provider_id)
                codes = [standard.code for standard in esg_part(session, 1)]
                services.save_entries(
                    session, assessment, _changes(data, codes), principal.actor, _version(text(data, "version"))
                )
                if submitting:
                    services.submit(session, assessment, principal.actor, assessment.version)
        except (ValidationFailed, Conflict) as error:
            return self._again(request, assessment_id, data, error)
        return see_other(f"/staff/self-assessments/{assessment_id}")

    @post("/self-assessments/{assessment_id:int}/review", sync_to_thread=True)
    def review(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        assessment_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        principal = principal_of(request)
        decision = text(data, "decision")
        try:
            if decision not in ("accept", "return"):
                raise ValidationFailed({"decision": "accept the self-assessment or return it with comments"})
            with db.write() as session:
                assessment = services.get_assessment(session, assessment_id)
                _ensure_can_see(session, principal, assessment.provider_id)
                codes = [standard.code for standard in esg_part(session, 1)]
                services.review(
                    session,
                    assessment,
                    accept=decision == "accept",
                    reviewer_user_id=principal.user_id,
                    actor=principal.actor,
                    expected_version=_version(text(data, "version")),
                    settings=settings,
                    comment=text(data, "comment") or None,
                    standard_comments={c: text(data, f"{c}.comment") for c in codes if text(data, f"{c}.comment")},
                )
        except (ValidationFailed, Conflict) as error:
            return self._again(request, assessment_id, data, error)
        return see_other(f"/staff/self-assessments/{assessment_id}")

    @post(
        "/self-assessments/{assessment_id:int}/evidence",
        sync_to_thread=True,
        request_max_body_size=documents.MAX_UPLOAD_REQUEST_BYTES,
    )
    def upload(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        assessment_id: FromPath[int],
        data: MultipartData,
    ) -> Template | Redirect:
        principal = principal_of(request)
        try:
            filename, content = uploaded_file(data)
            with db.write() as session:
                assessment = services.get_assessment(session, assessment_id)
                _ensure_own(principal, assessment.provider_id)
                evidence_files.upload_evidence(
                    session,
                    assessment,
                    filename=filename,
                    content=content,
                    actor=principal.actor,
                    settings=settings,
                    standard_code=str(data.get("standard_code") or "") or None,
                )
        except (ValidationFailed, Conflict) as error:
            return self._again(request, assessment_id, {}, error)
        return see_other(f"/staff/self-assessments/{assessment_id}")

    @get("/evidence/{evidence_id:int}", sync_to_thread=True)
    def download(
        self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep, evidence_id: FromPath[int]
    ) -> Response[bytes]:
        with db.read() as session:
            found = session.get(EvidenceFile, evidence_id)
            if found is None:
                raise NotFound(f"There is no evidence file with id {evidence_id}.")
            if not evidence_files.may_download(session, found, memberships(session, principal_of(request).user_id)):
                raise PermissionDeniedException("Only the provider, the agencies that review it and operators may.")
            data = evidence_files.read_evidence(settings, found)
        return Response(
            data,
            media_type=found.media_type,
            headers={
                "Content-Disposition": documents.content_disposition("attachment", found.filename),
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": documents.DOWNLOAD_CSP,
            },
        )

    @get("/self-assessments/compare", sync_to_thread=True)
    def compare(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        first: FromQuery[int],
        second: FromQuery[int],
    ) -> Template:
        with db.read() as session:
            a, b = services.get_assessment(session, first), services.get_assessment(session, second)
            _ensure_can_see(session, principal_of(request), a.provider_id)
            differences = services.compare(session, a, b)
            titles = {standard.code: standard.title for standard in esg_part(session, 1)}
        return Template(
            "assessments/compare.html",
            context={"first": a, "second": b, "differences": differences, "titles": titles},
        )

    def _again(
        self, request: Request[Any, Any, Any], assessment_id: int, data: dict[str, Any], error: RegistryError
    ) -> Template:
        """The page again with the messages; refusals (403, 404) are not form errors and never reach here."""
        database: Database = request.app.state.database
        with database.read() as session:
            context = _version_context(session, principal_of(request), services.get_assessment(session, assessment_id))
        typed = {key: value for key, value in data.items() if key != "_csrf_token"} or _entry_values(context)
        return form_page("assessments/version.html", context, typed, error)
