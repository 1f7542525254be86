"""The staff dashboard: what each role must act on next."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from registry.accounts.guards import EDITOR, OPERATOR, REVIEWER, principal_of, signed_in
from registry.deadlines.worklist import agency_dashboard, provider_deadlines
from registry.providers.services import display_name
from registry.timeutil import today
from registry.web import Database


class DashboardPage(Controller):
    path = "/staff"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def dashboard(self, request: Request[Any, Any, Any], db: Database) -> Template:
        principal = principal_of(request)
        context: dict[str, Any] = {"me": principal, "agency": None, "own_providers": []}
        with db.read() as session:
            if principal.has(OPERATOR, EDITOR, REVIEWER):
                scope = None if principal.is_operator else principal.agency_ids()
                context["agency"] = agency_dashboard(session, scope, today())
            if principal.provider_ids():
                context["own_providers"] = [(pid, display_name(session, pid)) for pid in principal.provider_ids()]
                context["deadlines"] = provider_deadlines(session, principal.provider_ids(), today())
        return Template("dashboard.html", context=context)
