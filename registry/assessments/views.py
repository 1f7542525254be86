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
from registry.flash import done
from registry.forms import FormData, MultipartData, form_page, lines, text, uploaded_file
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
        # A returned version is answered by a new one; offered when it is the latest.
        "may_start": assessment.state == "returned"
        and assessment.provider_id in principal.provider_ids()
        and services.versions(session, assessment.provider_id)[-1].id == assessment.id,
        "feedback": services.returned_feedback(session, assessment),
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
        return done(
            request,
            f"/staff/self-assessments/{draft.id}",
            f"Version {draft.version_number} started from the previous answers.",
        )

    @get("/self-assessments/{assessment_id:int}", sync_to_thread=True)
    def version(self, request: Request[Any, Any, Any], db: DatabaseDep, assessment_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = _version_context(session, principal_of(request), services.get_assessment(session, assessment_id))
        return Template("assessments/version.html", context={**context, "values": _entry_values(context), "errors": {}})

    @post("/self-assessments/{assessment_id:int}", sync_to_thread=True)
    def save(
        self, request: Request[Any, Any, Any], db: DatabaseDep, assessment_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        """Save the draft, and with action=submit then hand it to the agency; a refused submit keeps the save."""
        principal = principal_of(request)
        try:
            saved = self._save_draft(request, db, assessment_id, data)
        except (ValidationFailed, Conflict) as error:
            return self._again(request, assessment_id, data, error)
        if text(data, "action") != "submit":
            return done(request, f"/staff/self-assessments/{assessment_id}", "Draft saved.")
        try:
            with db.write() as session:
                assessment = services.get_assessment(session, assessment_id)
                services.submit(session, assessment, principal.actor, saved)
        except (ValidationFailed, Conflict) as error:
            return self._again(request, assessment_id, {**data, "version": str(saved)}, error, saved=True)
        return done(
            request,
            f"/staff/self-assessments/{assessment_id}",
            f"Version {assessment.version_number} submitted to the agency.",
        )

    def _save_draft(
        self, request: Request[Any, Any, Any], db: Database, assessment_id: int, data: dict[str, Any]
    ) -> int:
        """Save the typed answers in their own unit of work; the draft's new version number."""
        principal = principal_of(request)
        with db.write() as session:
            assessment = services.get_assessment(session, assessment_id)
            _ensure_own(principal, assessment.provider_id)
            codes = [standard.code for standard in esg_part(session, 1)]
            services.save_entries(
                session, assessment, _changes(data, codes), principal.actor, _version(text(data, "version"))
            )
            return assessment.version

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
        if decision == "accept" and text(data, "confirmed") != "yes":
            # Accepting changes the verdict's internal QA at once: ask once more, keeping the comments.
            with db.read() as session:
                context = _version_context(session, principal, services.get_assessment(session, assessment_id))
            if context["may_review"]:
                typed = {key: value for key, value in data.items() if key != "_csrf_token"}
                return Template("assessments/accept.html", context={**context, "values": typed, "errors": {}})
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
        message = (
            f"Version {assessment.version_number} accepted."
            if decision == "accept"
            else f"Version {assessment.version_number} returned with comments; the provider's staff are told by e-mail."
        )
        return done(request, f"/staff/self-assessments/{assessment_id}", message)

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
        """Upload a file; sent from the draft's form, the answers typed so far are saved first."""
        principal = principal_of(request)
        typed = {key: value for key, value in data.items() if key not in ("file", "_csrf_token")}
        with_answers = any(key.endswith(".narrative") for key in typed)
        try:
            if with_answers:
                typed["version"] = str(self._save_draft(request, db, assessment_id, typed))
        except (ValidationFailed, Conflict) as error:
            return self._again(request, assessment_id, typed, error)
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
            return self._again(request, assessment_id, typed if with_answers else {}, error, saved=with_answers)
        saved = " Your answers were saved too." if with_answers else ""
        return done(request, f"/staff/self-assessments/{assessment_id}", f"Evidence file {filename} uploaded.{saved}")

    @get("/evidence/{evidence_id:int}/withdraw", sync_to_thread=True)
    def withdraw_evidence_form(
        self, request: Request[Any, Any, Any], db: DatabaseDep, evidence_id: FromPath[int]
    ) -> Template:
        with db.read() as session:
            evidence = self._own_evidence(session, principal_of(request), evidence_id)
        return Template(
            "assessments/evidence_withdraw.html", context={"evidence": evidence, "values": {}, "errors": {}}
        )

    @post("/evidence/{evidence_id:int}/withdraw", sync_to_thread=True)
    def withdraw_evidence(
        self, request: Request[Any, Any, Any], db: DatabaseDep, evidence_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)
        try:
            with db.write() as session:
                evidence = self._own_evidence(session, principal, evidence_id)
                evidence_files.withdraw_evidence(session, evidence, reason=text(data, "reason"), actor=principal.actor)
        except (ValidationFailed, Conflict) as error:
            with db.read() as session:
                evidence = self._own_evidence(session, principal, evidence_id)
            return form_page("assessments/evidence_withdraw.html", {"evidence": evidence}, data, error)
        return done(
            request,
            f"/staff/self-assessments/{evidence.assessment_id}",
            f"Evidence file {evidence.filename} withdrawn.",
        )

    def _own_evidence(self, session: Session, principal: Principal, evidence_id: int) -> EvidenceFile:
        evidence = session.get(EvidenceFile, evidence_id)
        if evidence is None:
            raise NotFound(f"There is no evidence file with id {evidence_id}.")
        _ensure_own(principal, services.get_assessment(session, evidence.assessment_id).provider_id)
        return evidence

    @get("/self-assessments/", sync_to_thread=True)
    def waiting(self, request: Request[Any, Any, Any], db: DatabaseDep) -> Template:
        """Reviewers' list of submitted versions waiting for them."""
        principal = principal_of(request)
        if not principal.has("operator", "agency reviewer"):
            raise PermissionDeniedException("Only reviewers and operators review self-assessments.")
        with db.read() as session:
            scope = None if principal.is_operator else principal.agency_ids("agency reviewer")
            rows = [
                {"assessment": a, "provider_name": display_name(session, a.provider_id)}
                for a in services.waiting_for_review(session, scope)
            ]
        return Template("assessments/waiting.html", context={"rows": rows})

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
        self,
        request: Request[Any, Any, Any],
        assessment_id: int,
        data: dict[str, Any],
        error: RegistryError,
        saved: bool = False,
    ) -> Template:
        """The page again with the messages and what was typed; saved: the answers themselves were kept."""
        database: Database = request.app.state.database
        with database.read() as session:
            context = _version_context(session, principal_of(request), services.get_assessment(session, assessment_id))
        typed = {
            key: value
            for key, value in data.items()
            if key not in ("_csrf_token", "file") and isinstance(value, str | list)
        } or _entry_values(context)
        return form_page("assessments/version.html", {**context, "saved": saved}, typed, error)
