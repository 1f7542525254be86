"""The staff dashboard: what each role must act on next."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template

from registry.accounts.guards import EDITOR, OPERATOR, REVIEWER, operator_only, principal_of, signed_in
from registry.assessments.services import latest_versions
from registry.deadlines.calendar import existing_feeds, feed_for, feed_url
from registry.deadlines.services import recent_status_events
from registry.deadlines.worklist import agency_dashboard, provider_deadlines
from registry.flash import done
from registry.forms import FormData, text
from registry.providers.services import display_name
from registry.timeutil import today
from registry.web import DatabaseDep, SettingsDep


class DashboardPage(Controller):
    path = "/staff"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def dashboard(self, request: Request[Any, Any, Any], db: DatabaseDep) -> Template:
        principal = principal_of(request)
        context: dict[str, Any] = {"me": principal, "agency": None, "own_providers": []}
        with db.read() as session:
            if principal.has(OPERATOR, EDITOR, REVIEWER):
                scope = None if principal.is_operator else principal.agency_ids()
                context["agency"] = agency_dashboard(session, scope, today())
            if principal.provider_ids():
                context["own_providers"] = [(pid, display_name(session, pid)) for pid in principal.provider_ids()]
                context["deadlines"] = provider_deadlines(session, principal.provider_ids(), today())
                context["own_assessments"] = {
                    version.provider_id: version for version in latest_versions(session, principal.provider_ids())
                }
        return Template("dashboard.html", context=context)


class ChangesPage(Controller):
    """Operators see every verdict change and overdue condition that passing deadlines caused."""

    path = "/staff/changes"
    include_in_schema = False
    guards = [operator_only]

    @get("/", sync_to_thread=True)
    def changes(self, db: DatabaseDep) -> Template:
        with db.read() as session:
            events = recent_status_events(session)
            names = {pid: display_name(session, pid) for pid in {e.provider_id for e in events}}
        return Template("deadlines/changes.html", context={"events": events, "names": names})


class CalendarPages(Controller):
    """Staff find (and can renew) the private calendar feeds of the agencies and providers they work for."""

    path = "/staff/calendars"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep) -> Template:
        principal = principal_of(request)
        with db.read() as session:
            feeds = existing_feeds(session, principal.agency_ids(), principal.provider_ids())
            rows = [
                {
                    "owner": owner,
                    "label": label,
                    "url": feed_url(settings, feed) if feed is not None else None,
                }
                for owner, label, feed in feeds
            ]
        return Template("deadlines/calendars.html", context={"feeds": rows})

    @post("/", sync_to_thread=True)
    def issue(self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData) -> Redirect:
        principal = principal_of(request)
        kind, _, number = text(data, "owner").partition(":")
        owner_id = int(number) if number.isdigit() else -1
        allowed = (
            principal.agency_ids() if kind == "agency" else principal.provider_ids() if kind == "provider" else set()
        )
        if owner_id not in allowed:
            raise PermissionDeniedException("You can only manage the calendar feeds of your own agency or provider.")
        with db.write() as session:
            feed_for(
                session,
                agency_id=owner_id if kind == "agency" else None,
                provider_id=owner_id if kind == "provider" else None,
                regenerate=text(data, "regenerate") == "yes",
                actor=principal.actor,
            )
        return done(request, "/staff/calendars/", "Calendar feed ready.")
