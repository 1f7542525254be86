"""create_app(settings): the one place that wires the registry together."""

from __future__ import annotations

import gc
import logging
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Contact
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from registry import migrations
from registry.accounts.invitation_views import (
    EntryRequestPages,
    InvitationAcceptPages,
    InvitationPages,
    PendingEntryPages,
)
from registry.accounts.views import AccountPages, SignInPages, UserAdminPages
from registry.agencies.views import AgencyPages
from registry.assessments.views import SelfAssessmentPages
from registry.audit.views import AuditLogPage
from registry.csrf import SessionBoundCSRFMiddleware
from registry.db import begin_write, get_engine, sqlite_file
from registry.deadlines.api import CalendarFeeds, ProviderStatusEvents
from registry.deadlines.views import CalendarPages, ChangesPage, DashboardPage
from registry.errors import RegistryError
from registry.federation.api import Federation, FederationController, entity_configuration
from registry.federation.views import TrustMarkPage
from registry.forms import field_label
from registry.headers import security_headers
from registry.mail.views import OutboxPages
from registry.openapi_ui import ASSETS_PATH, ApiDocsPage, swagger_ui_assets
from registry.providers.api import ProviderController
from registry.providers.proof_views import IdentifierProofPages
from registry.providers.views import PublicProviderPages, StaffProviderPages
from registry.qa.report_views import ReportFilePages, report_file
from registry.qa.views import ResultPages
from registry.request_checks import refuse_unreadable_input, refusing_writes
from registry.scheduler import scheduler_leader
from registry.sessions import SESSION_COOKIE, DatabaseSessionStore, RegistrySessionConfig
from registry.settings import PROJECT_ROOT, Settings, get_settings
from registry.submissions.api import CsvSubmission, SubmissionController
from registry.submissions.views import ImportPages, TokenPages
from registry.trqp.api import TrqpController, trqp_discovery
from registry.trust import feed
from registry.trust.api import TrustController, TrustLookup, jwks
from registry.trust.list_api import FeedWatcher, TrustListController
from registry.trust.models import SigningKey
from registry.trust.signing import FEDERATION, VerdictSigner, ensure_key
from registry.trust.sqlite_reader import SqliteLookupReader
from registry.web import (
    Database,
    DatabaseDep,
    database_unavailable_handler,
    http_error_handler,
    internal_error_handler,
    registry_error_handler,
    validation_error_handler,
)

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "templates" / "static"


@get("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "alive"}


@get("/readyz", sync_to_thread=True, include_in_schema=False)
def readyz(db: DatabaseDep) -> Response[dict[str, Any]]:
    """Ready when the database answers, takes writes and is migrated to the head revision."""
    head = migrations.head_revision()
    try:
        with db.read() as session:
            begin_write(session)
            current = migrations.current_revision(session.connection())
            # A database that reads but cannot write (a read-only file, a standby) is not ready: a
            # write that changes nothing, rolled back, finds out.
            session.exec(text("UPDATE alembic_version SET version_num = version_num"))  # type: ignore[call-overload]
            session.rollback()
    except DBAPIError as error:
        return Response({"status": "unavailable", "detail": str(error.orig)}, status_code=503)
    if current != head:
        return Response(
            {"status": "not migrated", "database_revision": current, "head_revision": head}, status_code=503
        )
    return Response({"status": "ready", "revision": current})


@get("/", sync_to_thread=False, include_in_schema=False)
def home() -> Template:
    return Template("home.html")


def create_app(settings: Settings | None = None, bind: Engine | Connection | None = None) -> Litestar:
    settings = settings or get_settings()
    database = Database(bind if bind is not None else get_engine(settings))

    def _create_key() -> SigningKey:
        with database.write() as session:
            return ensure_key(session)

    reader = None
    bind = database.bind
    # Tests bind one connection; an in-memory database has no file to open beside the engine.
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite" and sqlite_file(str(bind.url)):
        reader = SqliteLookupReader(bind, settings.database_lock_timeout)
    trust_lookup = TrustLookup(database, settings, VerdictSigner(_create_key), reader)

    def _create_federation_key() -> SigningKey:
        with database.write() as session:
            return ensure_key(session, FEDERATION)

    federation = Federation(trust_lookup, VerdictSigner(_create_federation_key, FEDERATION))

    def _first_signing_key() -> None:
        # The embedded default creates its first key itself; without a database, lookups fail closed anyway.
        try:
            _create_key()
            _create_federation_key()
        except DBAPIError as error:
            logging.getLogger("registry").warning("no signing key created at start-up: %s", error.orig)

    def _feed_position() -> int:
        with database.connect() as connection:
            return feed.current_position(connection)

    def _provide_db(request: Request[Any, Any, Any]) -> Database:
        return refusing_writes(request, database)

    def _provide_settings() -> Settings:
        return settings

    def _template_globals(engine_: JinjaTemplateEngine) -> None:
        engine_.engine.globals["settings"] = settings
        engine_.engine.filters["field_label"] = field_label

    # Every worker campaigns; the one that holds the leader lock runs the periodic jobs (registry/leader.py).
    jobs = scheduler_leader(settings, database.engine) if settings.scheduler_in_process else None

    def _start_jobs() -> None:
        if jobs is not None:
            jobs.start()

    def _freeze_start_up_objects() -> None:
        # What start-up built (about 160,000 objects) lives as long as the worker. A full collection
        # that scans it stalls every request waiting on the worker for about 70 ms; frozen, full
        # collections skip it.
        gc.collect()
        gc.freeze()

    def _stop_jobs() -> None:
        if jobs is not None:
            jobs.stop()

    secret = settings.resolved_secret_key()
    sessions = RegistrySessionConfig(
        key=SESSION_COOKIE,
        max_age=settings.session_max_age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        # Machine routes never read a browser session; skipping them spares the store a lookup per verdict.
        exclude=["/api/", "/.well-known/", "/federation/", "/trqp/", "/static/", "/healthz", "/readyz", "/schema"],
    )
    csrf = CSRFConfig(
        secret=secret,
        cookie_name="registry_csrf",
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
        # The machine API authenticates with tokens, not cookies, so cross-site forgery does not apply;
        # health checks are polled by machines too, and would otherwise get a cookie with every answer.
        exclude=["/api/", "/federation/", "/trqp/", "/healthz", "/readyz"],
    )

    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            home,
            jwks,
            TrustController,
            TrustListController,
            entity_configuration,
            FederationController,
            TrustMarkPage,
            TrqpController,
            trqp_discovery,
            ProviderController,
            SubmissionController,
            CsvSubmission,
            TokenPages,
            ImportPages,
            ProviderStatusEvents,
            CalendarFeeds,
            PublicProviderPages,
            StaffProviderPages,
            ResultPages,
            ReportFilePages,
            report_file,
            AgencyPages,
            UserAdminPages,
            DashboardPage,
            SelfAssessmentPages,
            IdentifierProofPages,
            InvitationPages,
            InvitationAcceptPages,
            EntryRequestPages,
            PendingEntryPages,
            ChangesPage,
            AuditLogPage,
            CalendarPages,
            OutboxPages,
            SignInPages,
            AccountPages,
            create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
            create_static_files_router(
                path=ASSETS_PATH,
                directories=[swagger_ui_assets()],
                include_in_schema=False,
                name="swagger-assets",
            ),
        ],
        dependencies={
            "db": Provide(_provide_db, sync_to_thread=False),
            "settings": Provide(_provide_settings, sync_to_thread=False),
        },
        exception_handlers={
            RegistryError: registry_error_handler,
            ValidationException: validation_error_handler,
            HTTPException: http_error_handler,
            DBAPIError: database_unavailable_handler,
            Exception: internal_error_handler,
        },
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=_template_globals
        ),
        openapi_config=OpenAPIConfig(
            title="Provider QA Registry",
            version="1.0.0",
            description=(
                "Education providers, their quality assurance against the ESG 2015, and trust verdicts for "
                "credential verifiers."
            ),
            contact=Contact(name="Registry operators", url=settings.base_url),
            path="/schema",
            render_plugins=[ApiDocsPage(title="Provider QA Registry")],
        ),
        # The session is loaded before the CSRF check reads it.
        middleware=[
            sessions.middleware,
            DefineMiddleware(SessionBoundCSRFMiddleware, config=csrf),
        ],
        before_request=refuse_unreadable_input,
        stores={"sessions": DatabaseSessionStore(database)},
        state=State(
            {
                "settings": settings,
                "database": database,
                "scheduler": jobs,
                "trust_lookup": trust_lookup,
                "feed_watcher": FeedWatcher(_feed_position),
                "federation": federation,
            }
        ),
        before_send=[security_headers(https=settings.base_url.startswith("https://"))],
        on_startup=[_first_signing_key, _start_jobs, _freeze_start_up_objects],
        on_shutdown=[_stop_jobs],
        debug=settings.debug,
    )
