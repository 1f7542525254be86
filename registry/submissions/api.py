"""The machine submission API: agencies send reports in DEQAR's Submission API v2 layout."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, delete, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from sqlmodel import Session

from registry.agencies.models import Agency
from registry.api_docs import problem_responses
from registry.submissions import bulk, csv_import, services, tokens
from registry.web import PROBLEM_JSON, DatabaseDep, SettingsDep

CHALLENGE = 'Bearer realm="registry"'


def holder_of(session: Session, request: Request[Any, Any, Any], scope: str) -> tuple[tokens.TokenHolder, Agency]:
    """The token's holder and agency; 401 without a valid token, 403 without the scope."""
    try:
        holder = tokens.authenticate(session, request.headers.get("authorization"))
    except tokens.InvalidToken as error:
        raise NotAuthorizedException(
            str(error), headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'}
        ) from None
    if scope not in holder.scopes:
        raise PermissionDeniedException(f"This API token lacks the scope {scope!r}.")
    agency = session.get(Agency, holder.agency_id)
    assert agency is not None
    return holder, agency


class SubmissionController(Controller):
    path = "/api/v1/submissions"
    tags = ["Submissions"]

    @post(
        "/results",
        sync_to_thread=True,
        summary="Submit QA reports (DEQAR Submission API v2 layout)",
        request_max_body_size=services.MAX_JSON_BYTES,
        responses=problem_responses(400, 401, 403, 413),
        status_code=200,
        description=(
            "One report or a list of up to 500. Each is created, updated or left unchanged by its "
            "`local_identifier`; `dry_run=true` checks without writing. Answers 200 when every report is "
            "accepted, 400 problem+json listing each report's outcome when any is rejected (the accepted "
            "ones are saved)."
        ),
    )
    def submit(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        data: Annotated[Any, Body(description="A report object or a list of them")],
        dry_run: FromQuery[bool] = False,
    ) -> Response[Any]:
        with db.write() as session:
            holder, agency = holder_of(session, request, "results:submit")
            reports = data if isinstance(data, list) else [data]
            if not reports or len(reports) > services.MAX_REPORTS_PER_REQUEST:
                return _problem(
                    request, 400, f"Send from 1 to {services.MAX_REPORTS_PER_REQUEST} reports per request.", []
                )
            for report in reports:
                named = services.find_agency(session, report.get("agency")) if isinstance(report, dict) else None
                if named is not None and named.id != agency.id:
                    raise PermissionDeniedException(
                        f"This token submits for {agency.acronym} only, not for {named.acronym}."
                    )
            with bulk.upload(session, agency) as lookups:
                outcomes = list(
                    bulk.submit_chunk(
                        session,
                        lookups,
                        list(enumerate(reports)),
                        agency=agency,
                        settings=settings,
                        actor=holder.actor,
                        dry_run=dry_run,
                    )  # fmt: skip
                )
        answers = [outcome.as_dict() for outcome in outcomes]
        rejected = sum(1 for outcome in outcomes if outcome.submission_status == "rejected")
        if rejected:
            detail = f"{rejected} of {len(outcomes)} reports were rejected; " + (
                "nothing was written (dry run)." if dry_run else "the others were saved."
            )
            return _problem(request, 400, detail, answers)
        return Response({"dry_run": dry_run, "reports": answers}, status_code=200)

    @get(
        # Not on the DELETE's path: Litestar's automatic OPTIONS answer there would name only one method.
        "/results/{local_identifier:str}/current",
        sync_to_thread=True,
        summary="Read what the registry holds for one of the agency's reports (scope results:read)",
        responses=problem_responses(401, 403, 404),
    )
    def read(self, request: Request[Any, Any, Any], db: DatabaseDep, local_identifier: FromPath[str]) -> dict[str, Any]:
        with db.write() as session:
            _holder, agency = holder_of(session, request, "results:read")
            return services.submitted_result(session, agency=agency, local_identifier=local_identifier)

    @delete(
        "/results/{local_identifier:str}",
        sync_to_thread=True,
        status_code=200,
        summary="Withdraw a report by its local identifier (it is kept, excluded from verdicts)",
        responses=problem_responses(400, 401, 403, 404),
    )
    def withdraw(
        self, request: Request[Any, Any, Any], db: DatabaseDep, local_identifier: FromPath[str]
    ) -> dict[str, Any]:
        with db.write() as session:
            holder, agency = holder_of(session, request, "results:submit")
            result = services.withdraw_submission(
                session, agency=agency, local_identifier=local_identifier, actor=holder.actor
            )
            return {"local_identifier": local_identifier, "result_id": result.id, "submission_status": "withdrawn"}


class CsvSubmission(Controller):
    path = "/api/v1/submissions"
    tags = ["Submissions"]

    @post(
        "/results.csv",
        summary="Submit QA reports as a CSV file (DEQAR's CSV layout)",
        status_code=200,
        request_max_body_size=csv_import.MAX_CSV_BYTES,
        responses=problem_responses(400, 401, 403, 413),
        description=(
            "The body is the CSV file (UTF-8, with or without BOM, or Windows-1252). `mode` is row-by-row "
            "(default: good rows are saved, bad ones reported) or all-or-nothing. With `Accept: text/csv` "
            "the answer is the per-row report as CSV."
        ),
    )
    async def submit_csv(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        settings: SettingsDep,
        dry_run: FromQuery[bool] = False,
        mode: FromQuery[str] = "row-by-row",
    ) -> Response[Any]:
        body = await request.body()

        def _run() -> Response[Any]:
            with db.write() as session:
                holder, agency = holder_of(session, request, "results:submit")
                try:
                    report = csv_import.import_results(
                        session, body, agency=agency, settings=settings, actor=holder.actor, mode=mode,
                        dry_run=dry_run,
                    )  # fmt: skip
                except csv_import.UnreadableFile as error:
                    return _problem(request, 400, str(error), [])
                if report.rolled_back:
                    session.rollback()
            if "text/csv" in request.headers.get("accept", ""):
                return Response(
                    csv_import.report_csv(report),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="import-report.csv"'},
                )
            if report.rejected:
                detail = f"{report.rejected} rows were rejected; " + (
                    "nothing was saved." if report.rolled_back or report.dry_run else "the other rows were saved."
                )
                return _problem(request, 400, detail, [], extra=report.as_dict())
            return Response(report.as_dict())

        return await anyio.to_thread.run_sync(_run)


def _problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    reports: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    settings = request.app.state.settings
    body = {
        "type": f"{settings.base_url}/problems/submission-rejected",
        "title": "Reports rejected",
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **({"reports": reports} if extra is None else extra),
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON)
