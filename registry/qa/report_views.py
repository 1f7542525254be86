"""Report files of QA results: agency staff attach and withdraw them; verifiers download them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registry import documents
from registry.accounts.guards import principal_of, signed_in
from registry.errors import ValidationFailed
from registry.flash import done
from registry.forms import FormData, MultipartData, form_page, text, uploaded_file
from registry.qa import services
from registry.qa.views import changeable_result
from registry.web import DatabaseDep, SettingsDep


class ReportFilePages(Controller):
    """Agency staff attach the report files of their results."""

    path = "/staff/results/{result_id:int}/reports"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = changeable_result(session, request, result_id)
            files = services.report_files(session, result_id)
        return Template("qa/report_files.html", context={**context, "files": files, "errors": {}})

    @post("/", sync_to_thread=True, request_max_body_size=documents.MAX_UPLOAD_REQUEST_BYTES)
    def upload(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        result_id: FromPath[int],
        data: MultipartData,
    ) -> Template | Redirect:
        try:
            filename, content = uploaded_file(data)
            with db.write() as session:
                context = changeable_result(session, request, result_id)
                services.attach_report_file(
                    session,
                    context["result"],
                    filename=filename,
                    content=content,
                    settings=settings,
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            with db.read() as session:
                context = changeable_result(session, request, result_id)
                files = services.report_files(session, result_id)
            return Template(
                "qa/report_files.html", context={**context, "files": files, "errors": error.errors}, status_code=400
            )
        return done(request, f"/staff/results/{result_id}/reports", f"Report file {filename} uploaded.")

    @get("/{file_id:int}/withdraw", sync_to_thread=True)
    def withdraw_form(
        self, request: Request[Any, Any, Any], db: DatabaseDep, result_id: FromPath[int], file_id: FromPath[int]
    ) -> Template:
        with db.read() as session:
            context = changeable_result(session, request, result_id)
            report = services.get_report_file(session, result_id, file_id)
        return Template(
            "qa/report_file_withdraw.html", context={**context, "report": report, "values": {}, "errors": {}}
        )

    @post("/{file_id:int}/withdraw", sync_to_thread=True)
    def withdraw(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        result_id: FromPath[int],
        file_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                changeable_result(session, request, result_id)
                report = services.get_report_file(session, result_id, file_id)
                services.withdraw_report_file(
                    session, report, reason=text(data, "reason"), actor=principal_of(request).actor
                )
        except ValidationFailed as error:
            with db.read() as session:
                context = changeable_result(session, request, result_id)
                report = services.get_report_file(session, result_id, file_id)
            return form_page("qa/report_file_withdraw.html", {**context, "report": report}, data, error)
        return done(request, f"/staff/results/{result_id}/reports", f"Report file {report.filename} withdrawn.")


@get("/reports/{file_id:int}", sync_to_thread=True, include_in_schema=False)
def report_file(db: DatabaseDep, settings: SettingsDep, file_id: FromPath[int]) -> Response[bytes]:
    """A QA report is public: verifiers follow the verdict's report link here."""
    with db.read() as session:
        report, data = services.read_report_file(session, settings, file_id)
    return Response(
        data,
        media_type=report.content_type,
        headers={
            "Content-Disposition": documents.content_disposition("attachment", report.filename),
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": documents.DOWNLOAD_CSP,
        },
    )
