"""Request plumbing shared by the JSON API and the HTML pages: database access, problem answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.response import Redirect, Template
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from registry.db import begin_write
from registry.documents import MAX_DOCUMENT_BYTES
from registry.errors import RegistryError
from registry.settings import Settings

PROBLEM_JSON = "application/problem+json"
# Seconds a client is asked to wait when the database is unavailable.
RETRY_AFTER = "30"


class Database:
    """The request's way to the database: read in a session, write in a unit of work.

    Bound to an engine in service; tests bind it to one connection whose transaction they roll back.
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self._options: dict[str, Any] = {"expire_on_commit": False}
        if isinstance(bind, Connection):
            self._options["join_transaction_mode"] = "create_savepoint"

    @property
    def engine(self) -> Engine:
        return self.bind if isinstance(self.bind, Engine) else self.bind.engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.bind, **self._options) as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A bare connection for read-only Core queries: the verdict lookup's path, without an ORM session."""
        if isinstance(self.bind, Connection):
            yield self.bind
            return
        with self.bind.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        with Session(self.bind, **self._options) as session:
            try:
                if isinstance(self.bind, Engine):
                    begin_write(session)
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


def problem(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    settings: Settings = request.app.state.settings
    body: dict[str, Any] = {
        "type": f"{settings.base_url}/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [{"field": field, "detail": message} for field, message in errors.items()]
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def wants_html(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith(("/api/", "/.well-known/", "/schema")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _page(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    template = {403: "403.html", 404: "404.html"}.get(status, "500.html")
    return Template(template, context={"detail": detail, "status": status}, status_code=status)


def registry_error_handler(request: Request[Any, Any, Any], error: RegistryError) -> Response[Any]:
    if wants_html(request):
        return _page(request, error.status_code, error.detail)
    return problem(request, error.status_code, error.title, error.detail, error.type_slug, error.errors)


def validation_error_handler(request: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    errors: dict[str, str] = {}
    for item in error.extra or []:
        if isinstance(item, dict):
            errors[str(item.get("key") or item.get("source") or "request")] = str(item.get("message"))
    detail = (
        "The request is malformed: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        if errors
        else str(error.detail)
    )
    return problem(request, 400, "Invalid input", detail, "invalid-input", errors)


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    if error.status_code == 413:
        error = HTTPException(
            status_code=413,
            detail="The request is larger than the registry accepts: an uploaded file may be at most "
            f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MB.",
        )
    if wants_html(request) and error.status_code == 401:
        # A browser that is not signed in is sent to sign in, and back here afterwards.
        return Redirect(f"/signin?next={quote(request.url.path)}", status_code=303)
    if wants_html(request):
        return _page(request, error.status_code, error.detail)
    slug = {404: "not-found", 405: "method-not-allowed", 403: "forbidden", 401: "unauthorized", 413: "too-large"}.get(
        error.status_code, "http-error"
    )
    title = "Not found" if isinstance(error, NotFoundException) else error.detail
    title = "Too large" if error.status_code == 413 else title
    return problem(request, error.status_code, title, error.detail, slug, headers=error.headers)


def unavailability(error: DBAPIError) -> str | None:
    """What a database error means to the person asking, when it means "come back later"; None otherwise."""
    orig = error.orig
    message = str(orig).lower()
    if "readonly" in message or "read-only" in message:
        # A read-only SQLite file, or PostgreSQL refusing writes (a standby, default_transaction_read_only).
        return "The registry cannot save changes right now: its database is read-only. Nothing was saved."
    if isinstance(orig, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable) or "locked" in message:
        return "The registry's database did not answer in time; nothing was changed. Try again shortly."
    if isinstance(error, OperationalError) or error.connection_invalidated:
        return "The registry's database cannot be reached right now; no verdict can be given. Try again shortly."
    return None


def database_unavailable_handler(request: Request[Any, Any, Any], error: DBAPIError) -> Response[Any]:
    # Fail closed: without the database there is no verdict, only a request to come back.
    detail = unavailability(error)
    if detail is None:
        return internal_error_handler(request, error)
    if wants_html(request):
        response = _page(request, 503, detail)
        response.headers["Retry-After"] = RETRY_AFTER
        return response
    return problem(request, 503, "Service unavailable", detail, "unavailable", headers={"Retry-After": RETRY_AFTER})


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    request.logger.exception("unhandled error", exc_info=error)
    detail = "Something went wrong on our side; the error has been logged."
    if wants_html(request):
        return _page(request, 500, detail)
    return problem(request, 500, "Internal error", detail, "internal-error")


# Handler parameters naming the app-wide dependencies (see create_app).
DatabaseDep = NamedDependency[Database]
SettingsDep = NamedDependency[Settings]
