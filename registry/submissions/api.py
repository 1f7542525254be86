"""The machine submission API: agencies send reports in DEQAR's Submission API v2 layout."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO, cast

import anyio
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Stream
from sqlmodel import Session

from registry.agencies.models import Agency
from registry.api_docs import problem_responses
from registry.settings import Settings
from registry.submissions import bulk, csv_import, fetching, institutions, services, tokens
from registry.submissions.import_report import ImportReport, json_answer, report_csv
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


async def token_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The bearer token is checked before the body is read or parsed: no token, no 400 about the body."""
    scope = handler.opt.get("token_scope")
    if scope is None:
        return  # Litestar's own OPTIONS answer, which reads and writes nothing
    database = connection.app.state.database
    request = cast("Request[Any, Any, Any]", connection)

    def check() -> tokens.TokenHolder:
        with database.write() as session:
            return holder_of(session, request, scope)[0]

    connection.state.token_holder = await anyio.to_thread.run_sync(check)


def _holder(request: Request[Any, Any, Any], session: Session) -> tuple[tokens.TokenHolder, Agency]:
    holder: tokens.TokenHolder = request.state.token_holder
    agency = session.get(Agency, holder.agency_id)
    assert agency is not None
    return holder, agency


def _fetch_report_files(settings: Settings, reports: list[Any]) -> fetching.ReportFetches:
    """Report files named by URL, fetched now: outside any transaction, before the reports are written."""
    fetches = fetching.ReportFetches(settings)
    fetches.fetch_all(url for report in reports for url in fetching.locations(report))
    return fetches


class SubmissionController(Controller):
    path = "/api/v1/submissions"
    tags = ["Submissions"]
    guards = [token_guard]

    @post(
        "/results",
        opt={"token_scope": "results:submit"},
        sync_to_thread=True,
        summary="Submit QA reports (DEQAR Submission API v2 layout)",
        request_max_body_size=services.MAX_JSON_BYTES,
        responses=problem_responses(400, 401, 403, 413),
        status_code=200,
        description=(
            "One report or a list of up to 500. Each is created, updated or left unchanged by its "
            "`local_identifier`; `dry_run=true` checks without writing. Answers 200 when every report is "
            "accepted, 400 problem+json listing each report's outcome when any is rejected (the accepted "
            "ones are saved). Report files named by `original_location` are fetched (https only, at most 20 MB); "
            "a file that cannot be fetched is an error on that report. With the scope `providers:create`, an "
            "institution the registry does not hold is created from its master data (`name_official`, "
            "`country`, `provider_type`, …)."
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
        reports = data if isinstance(data, list) else [data]
        if not reports or len(reports) > services.MAX_REPORTS_PER_REQUEST:
            return _problem(request, 400, f"Send from 1 to {services.MAX_REPORTS_PER_REQUEST} reports per request.", [])
        holder: tokens.TokenHolder = request.state.token_holder
        may_create = institutions.CREATE_SCOPE in holder.scopes
        with db.read() as session:
            _holder_, agency = _holder(request, session)
            # A batch names the same agency in every report: look each name up once.
            named_agencies: dict[str, Agency | None] = {}
            for report in reports:
                if not isinstance(report, dict):
                    continue
                reference = str(report.get("agency") or "").strip()
                if reference not in named_agencies:
                    named_agencies[reference] = services.find_agency(session, reference)
                named = named_agencies[reference]
                if named is not None and named.id != agency.id:
                    raise PermissionDeniedException(
                        f"This token submits for {agency.acronym} only, not for {named.acronym}."
                    )
        first_row: dict[str, int] = {}
        with _fetch_report_files(settings, reports) as fetched, db.write() as session:
            agency = _holder(request, session)[1]
            refused: dict[int, services.Outcome] = {}
            pending: list[tuple[int, Any]] = []
            for i, report in enumerate(reports):
                local_id = str(report.get("local_identifier") or "").strip() if isinstance(report, dict) else ""
                if local_id and local_id in first_row:
                    refused[i] = services.Outcome(i, local_id)
                    refused[i].errors["local_identifier"] = [
                        f"report {first_row[local_id]} of this request has the same local identifier"
                    ]
                    continue
                if local_id:
                    first_row[local_id] = i
                pending.append((i, report))
            # One chunk: what the reports name is looked up together (registry/submissions/bulk.py).
            with bulk.upload(session, agency) as lookups:
                submitted = bulk.submit_chunk(
                    session, lookups, pending, agency=agency, settings=settings, actor=holder.actor,
                    dry_run=dry_run, may_create_providers=may_create, fetched=fetched,
                )  # fmt: skip
                outcomes = [refused.get(i) or next(submitted) for i in range(len(reports))]
        answers = [outcome.as_dict() for outcome in outcomes]
        rejected = sum(1 for outcome in outcomes if outcome.submission_status == "rejected")
        if rejected:
            if dry_run:
                outcome = "nothing was written (dry run)."
            elif rejected == len(outcomes):
                outcome = "nothing was written."
            else:
                outcome = "the others were saved."
            detail = f"{rejected} of {len(outcomes)} reports were rejected; {outcome}"
            return _problem(request, 400, detail, answers)
        return Response({"dry_run": dry_run, "reports": answers}, status_code=200)

    @get(
        # Not on the DELETE's path: Litestar's automatic OPTIONS answer there would name only one method.
        "/results/{local_identifier:str}/current",
        opt={"token_scope": "results:read"},
        sync_to_thread=True,
        summary="Read what the registry holds for one of the agency's reports (scope results:read)",
        responses=problem_responses(401, 403, 404),
    )
    def read(self, request: Request[Any, Any, Any], db: DatabaseDep, local_identifier: FromPath[str]) -> dict[str, Any]:
        with db.read() as session:
            agency = _holder(request, session)[1]
            return services.submitted_result(session, agency=agency, local_identifier=local_identifier)

    @delete(
        "/results/{local_identifier:str}",
        opt={"token_scope": "results:submit"},
        sync_to_thread=True,
        status_code=200,
        summary="Withdraw a report by its local identifier (it is kept, excluded from verdicts)",
        responses=problem_responses(400, 401, 403, 404),
    )
    def withdraw(
        self, request: Request[Any, Any, Any], db: DatabaseDep, local_identifier: FromPath[str]
    ) -> dict[str, Any]:
        with db.write() as session:
            holder, agency = _holder(request, session)
            result = services.withdraw_submission(
                session, agency=agency, local_identifier=local_identifier, actor=holder.actor
            )
            return {"local_identifier": local_identifier, "result_id": result.id, "submission_status": "withdrawn"}


class CsvSubmission(Controller):
    path = "/api/v1/submissions"
    tags = ["Submissions"]
    guards = [token_guard]

    @post(
        "/results.csv",
        opt={"token_scope": "results:submit"},
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
        holder: tokens.TokenHolder = request.state.token_holder
        # The body goes to a temporary file as it arrives (in memory up to 1 MB), not into one bytes object.
        with tempfile.SpooledTemporaryFile(max_size=1 << 20) as body:
            async for part in request.stream():
                body.write(part)
            body.seek(0)
            stream = cast(BinaryIO, body)  # a binary file, as the import reads it

            def _run() -> Response[Any]:
                try:
                    urls = csv_import.report_locations(stream)
                except csv_import.UnreadableFile as error:
                    return _problem(request, 400, str(error), [])
                report: ImportReport | None = None
                try:
                    with fetching.ReportFetches(settings) as fetched:
                        fetched.fetch_all(urls)
                        with db.write() as session:
                            agency = _holder(request, session)[1]
                            try:
                                report = csv_import.import_results(
                                    session, stream, agency=agency, settings=settings, actor=holder.actor, mode=mode,
                                    dry_run=dry_run, may_create_providers=institutions.CREATE_SCOPE in holder.scopes,
                                    fetched=fetched,
                                )  # fmt: skip
                            except csv_import.UnreadableFile as error:
                                return _problem(request, 400, str(error), [])
                            if report.rolled_back:
                                session.rollback()
                    return _csv_answer(request, report)
                except BaseException:
                    if report is not None:
                        report.close()
                    raise

            return await anyio.to_thread.run_sync(_run)


def _csv_answer(request: Request[Any, Any, Any], report: ImportReport) -> Response[Any]:
    """The per-row report, streamed from its spool (which the stream closes at its end)."""
    if "text/csv" in request.headers.get("accept", ""):
        return Stream(
            _closing(report, report_csv(report)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="import-report.csv"'},
        )
    if not report.rejected:
        return Stream(json_answer(report.summary(), report), media_type="application/json")
    rows = "1 row was" if report.rejected == 1 else f"{report.rejected} rows were"
    detail = f"{rows} rejected; " + ("nothing was saved." if report.nothing_saved else "the other rows were saved.")
    head = {**_problem_head(request, 400, detail), **report.summary()}
    return Stream(json_answer(head, report), status_code=400, media_type=PROBLEM_JSON)


def _closing(report: ImportReport, parts: Iterator[str]) -> Iterator[str]:
    try:
        yield from parts
    finally:
        report.close()


def _problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    reports: list[dict[str, Any]],
) -> Response[Any]:
    body = {**_problem_head(request, status, detail), "reports": reports}
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def _problem_head(request: Request[Any, Any, Any], status: int, detail: str) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "type": f"{settings.base_url}/problems/submission-rejected",
        "title": "Reports rejected",
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
