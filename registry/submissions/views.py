"""Staff pages for API tokens: agency editors make tokens for their agency, operators for any."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from contextlib import ExitStack
from itertools import islice
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session

from registry import documents
from registry.accounts.guards import EDITOR, Principal, principal_of, recordable_agencies, requires
from registry.agencies.services import get_agency, list_agencies
from registry.errors import ValidationFailed
from registry.forms import FormData, MultipartData, form_page, see_other, text, uploaded_file, values
from registry.settings import Settings
from registry.submissions import csv_import, fetching, housekeeping, tokens
from registry.submissions.import_report import ImportReport, report_csv
from registry.web import Database, DatabaseDep, SettingsDep

# The secret is on this page only; no cache keeps it.
NO_STORE = {"Cache-Control": "no-store"}


def _only_agency(agencies: list[tuple[int | None, str]]) -> dict[str, str]:
    """An editor of one agency has nothing to choose: the form starts with it chosen."""
    return {"agency_id": str(agencies[0][0])} if len(agencies) == 1 else {}


def _new_token_values(agencies: list[tuple[int | None, str]]) -> dict[str, Any]:
    # A year is the common rotation period; the service refuses more than MAX_LIFETIME_DAYS.
    expires_on = tokens.utcnow().date() + dt.timedelta(days=365)
    return {**_only_agency(agencies), "expires_on": expires_on.isoformat(), "scopes": [tokens.SCOPES[0]]}


def _context(session: Session, principal: Principal) -> dict[str, Any]:
    agencies = [a for a in list_agencies(session) if (a.id or 0) in set(recordable_agencies(principal, [a.id or 0]))]
    visible = None if principal.is_operator else {a.id or 0 for a in agencies}
    names = {a.id: a.acronym for a in agencies}
    return {
        "agencies": [(a.id, f"{a.acronym}: {a.name}") for a in agencies],
        "tokens": [(t, names.get(t.agency_id, "?")) for t in tokens.tokens_of(session, visible)],
        "scopes": tokens.SCOPES,
        "now": tokens.utcnow(),
    }


class TokenPages(Controller):
    path = "/staff/tokens"
    include_in_schema = False
    guards = [requires(EDITOR)]

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db: DatabaseDep) -> Template:
        with db.read() as session:
            context = _context(session, principal_of(request))
        values = _new_token_values(context["agencies"])
        return Template("submissions/tokens.html", context={**context, "values": values, "errors": {}})

    @post("/", sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData) -> Template:
        principal = principal_of(request)
        agency = text(data, "agency_id")
        try:
            if not agency.isdigit():
                raise ValidationFailed({"agency_id": "choose the agency the token acts for"})
            if int(agency) not in recordable_agencies(principal, [int(agency)]):
                raise ValidationFailed({"agency_id": "you may only make tokens for your own agency"})
            with db.write() as session:
                token, secret = tokens.create_token(
                    session,
                    agency_id=int(agency),
                    name=text(data, "name"),
                    expires_on=text(data, "expires_on"),
                    scopes=values(data, "scopes"),
                    actor=principal.actor,
                )
        except ValidationFailed as error:
            with db.read() as session:
                context = _context(session, principal)
            return form_page("submissions/tokens.html", context, data, error)
        return Template("submissions/token_created.html", context={"token": token, "secret": secret}, headers=NO_STORE)

    @post("/{token_id:int}/revoke", sync_to_thread=True)
    def revoke(self, request: Request[Any, Any, Any], db: DatabaseDep, token_id: FromPath[int]) -> Redirect:
        principal = principal_of(request)
        with db.write() as session:
            token = tokens.get_token(session, token_id)
            if token.agency_id not in recordable_agencies(principal, [token.agency_id]):
                raise PermissionDeniedException("You may only revoke your own agency's tokens.")
            tokens.revoke_token(session, token, actor=principal.actor)
        return see_other("/staff/tokens/")


REPORT_AREA = housekeeping.REPORT_AREA
_REPORT_NAME = re.compile(r"^(\d+)-[A-Za-z0-9_-]{22}\.csv$")
# The import page's script names each upload so it can ask how far the server has got (import.js).
PROGRESS_AREA = housekeeping.PROGRESS_AREA
# Lines of the per-row report shown on the page; the downloadable report has them all.
PAGE_LINES = 1000
_PROGRESS_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ImportProgress:
    """How far an upload's import has got, in a small file its uploader's browser polls (any worker can answer)."""

    def __init__(self, settings: Settings, user_id: int, progress_id: str, total: int) -> None:
        self.path = (
            settings.var_dir / PROGRESS_AREA / f"{user_id}-{progress_id}.json"
            if _PROGRESS_ID.match(progress_id)
            else None
        )
        self.total = total
        self.done = 0
        self.stage = "starting"
        self._written = 0.0

    def set_stage(self, stage: str) -> None:
        self.stage = stage
        self._write()

    def step(self, rows: int) -> None:
        self.done += rows
        if time.monotonic() - self._written >= 0.2:
            self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps({"stage": self.stage, "done": self.done, "total": max(self.total, self.done)}))
        partial.replace(self.path)  # a poll never reads half a file
        self._written = time.monotonic()

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _keep_report(settings: Settings, user_id: int, report: ImportReport) -> str:
    """The per-row report, kept for its uploader to download (named so only they may), written from its spool."""
    name = f"{user_id}-{secrets.token_urlsafe(16)}.csv"
    folder = settings.var_dir / REPORT_AREA
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("w", encoding="utf-8", newline="") as out:
        out.writelines(report_csv(report))
    return name


class ImportPages(Controller):
    """Agency staff upload a CSV in DEQAR's layout and see, then download, what happened to each row."""

    path = "/staff/imports"
    include_in_schema = False
    guards = [requires(EDITOR)]

    def _context(self, session: Session, principal: Principal) -> dict[str, Any]:
        agencies = [a for a in list_agencies(session) if a.id in set(recordable_agencies(principal, [a.id or 0]))]
        return {"agencies": [(a.id, f"{a.acronym}: {a.name}") for a in agencies], "modes": csv_import.MODES}

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db: DatabaseDep) -> Template:
        with db.read() as session:
            context = self._context(session, principal_of(request))
        values = _only_agency(context["agencies"])
        return Template("submissions/import.html", context={**context, "values": values, "errors": {}})

    @post("/", sync_to_thread=True, request_max_body_size=documents.MAX_UPLOAD_REQUEST_BYTES)
    def upload(
        self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep, data: MultipartData
    ) -> Template:
        principal = principal_of(request)
        fields = {k: v for k, v in data.items() if not isinstance(v, UploadFile)}
        # The report's spool goes when the page is made, whatever happened once it was written.
        with ExitStack() as spools:
            return self._import(db, settings, principal, data, fields, spools)

    def _import(
        self,
        db: Database,
        settings: Settings,
        principal: Principal,
        data: dict[str, Any],
        fields: dict[str, Any],
        spools: ExitStack,
    ) -> Template:
        agency_id = text(fields, "agency_id")
        try:
            if not agency_id.isdigit() or int(agency_id) not in recordable_agencies(principal, [int(agency_id)]):
                raise ValidationFailed({"agency_id": "choose one of your agencies"})
            _name, content = uploaded_file(data)
            if len(content) > csv_import.MAX_CSV_BYTES:
                raise ValidationFailed({"file": f"a file may be at most {csv_import.MAX_CSV_BYTES // 2**20} MB"})
            progress = ImportProgress(
                settings, principal.user_id, text(fields, "progress_id"), max(content.count(b"\n") - 1, 1)
            )
            try:
                try:
                    urls = csv_import.report_locations(content)
                except csv_import.UnreadableFile as error:
                    raise ValidationFailed({"file": str(error)}) from None
                with fetching.ReportFetches(settings) as fetched:
                    if urls:
                        progress.set_stage("fetching report files")
                        fetched.fetch_all(urls)
                    progress.set_stage("importing rows")
                    with db.write() as session:
                        agency = get_agency(session, int(agency_id))
                        try:
                            report = csv_import.import_results(
                                session, content, agency=agency, settings=settings, actor=principal.actor,
                                mode=text(fields, "mode") or "row-by-row", dry_run=text(fields, "dry_run") == "yes",
                                progress=progress.step, may_create_providers=text(fields, "create_providers") == "yes",
                                fetched=fetched,
                            )  # fmt: skip
                        except csv_import.UnreadableFile as error:
                            raise ValidationFailed({"file": str(error)}) from None
                        spools.enter_context(report)
                        if report.rolled_back:
                            session.rollback()
            finally:
                progress.remove()
        except ValidationFailed as error:
            with db.read() as session:
                context = self._context(session, principal)
            return form_page("submissions/import.html", context, fields, error)
        # The page shows the first lines; the report to download has every row (both read from the spool).
        lines = list(islice(report.lines(), PAGE_LINES + 1))
        download = _keep_report(settings, principal.user_id, report)
        with db.read() as session:
            context = self._context(session, principal)
        return Template(
            "submissions/import.html",
            context={
                **context,
                "values": fields,
                "errors": {},
                "report": report,
                "lines": lines[:PAGE_LINES],
                "more_lines": len(lines) > PAGE_LINES,
                "download": download,
                "keep_days": housekeeping.REPORT_KEEP_DAYS,
            },
            status_code=400 if report.rejected else 200,
        )

    @get("/progress/{progress_id:str}", sync_to_thread=True)
    def progress(
        self, request: Request[Any, Any, Any], settings: SettingsDep, progress_id: FromPath[str]
    ) -> Response[Any]:
        """How far the caller's own upload has got, for import.js; 404 until the server starts on it."""
        if not _PROGRESS_ID.match(progress_id):
            raise NotFoundException("There is no such upload.")
        path = settings.var_dir / PROGRESS_AREA / f"{principal_of(request).user_id}-{progress_id}.json"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            raise NotFoundException("This upload has not started or is done.") from None
        return Response(state, headers={"Cache-Control": "no-store"})

    @get("/reports/{name:str}", sync_to_thread=True)
    def download(self, request: Request[Any, Any, Any], settings: SettingsDep, name: FromPath[str]) -> Response[bytes]:
        match = _REPORT_NAME.match(name)
        path = settings.var_dir / REPORT_AREA / name
        if not match or int(match.group(1)) != principal_of(request).user_id or not path.is_file():
            raise NotFoundException(
                f"There is no such import report of yours; reports are kept for {housekeeping.REPORT_KEEP_DAYS} days."
            )
        return Response(
            path.read_bytes(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="import-report.csv"', "Cache-Control": "no-store"},
        )
