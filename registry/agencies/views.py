"""Operators' pages for QA agencies and their EQAR registration windows."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registry.accounts.guards import operator_only, principal_of
from registry.agencies import services
from registry.agencies.models import AgencyRegistration
from registry.errors import ValidationFailed
from registry.flash import done
from registry.forms import FormData, form_page, text, values
from registry.vocabulary import ACTIVITY_TYPES
from registry.web import Database, DatabaseDep


class AgencyPages(Controller):
    path = "/staff/agencies"
    include_in_schema = False
    guards = [operator_only]

    @get("/", sync_to_thread=True)
    def index(self, db: DatabaseDep) -> Template:
        with db.read() as session:
            agencies = [(a, services.registrations(session, a.id or 0)) for a in services.list_agencies(session)]
        return Template("agencies/index.html", context={"agencies": agencies})

    @get("/new", sync_to_thread=False)
    def new(self) -> Template:
        return Template("agencies/form.html", context={"activity_types": ACTIVITY_TYPES, "values": {}, "errors": {}})

    @post("/", sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData) -> Template | Redirect:
        deqar = text(data, "deqar_agency_id")
        try:
            if deqar and not deqar.isdigit():
                raise ValidationFailed({"deqar_agency_id": "a DEQAR agency id is a number"})
            with db.write() as session:
                agency = services.create_agency(
                    session,
                    name=text(data, "name"),
                    acronym=text(data, "acronym"),
                    country=text(data, "country"),
                    website=text(data, "website") or None,
                    deqar_agency_id=int(deqar) if deqar else None,
                    activities=values(data, "activities"),
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            return form_page("agencies/form.html", {"activity_types": ACTIVITY_TYPES}, data, error)
        return done(request, f"/staff/agencies/{agency.id}", f"Agency {agency.acronym} created.")

    def _detail(self, db: Database, agency_id: int) -> dict[str, Any]:
        with db.read() as session:
            agency = services.get_agency(session, agency_id)
            return {"agency": agency, "registrations": services.registrations(session, agency_id)}

    @get("/{agency_id:int}", sync_to_thread=True)
    def detail(self, db: DatabaseDep, agency_id: FromPath[int]) -> Template:
        return Template("agencies/detail.html", context={**self._detail(db, agency_id), "values": {}, "errors": {}})

    @post("/{agency_id:int}/registrations", sync_to_thread=True)
    def add_registration(
        self, request: Request[Any, Any, Any], db: DatabaseDep, agency_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                services.add_registration(
                    session,
                    services.get_agency(session, agency_id),
                    registered_from=text(data, "registered_from"),
                    registered_to=text(data, "registered_to") or None,
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            return form_page("agencies/detail.html", self._detail(db, agency_id), data, error)
        return done(request, f"/staff/agencies/{agency_id}", "Registration window added.")

    def _window(self, db: Database, agency_id: int, registration_id: int) -> dict[str, Any]:
        with db.read() as session:
            return {
                "agency": services.get_agency(session, agency_id),
                "window": services.get_registration(session, agency_id, registration_id),
            }

    def _window_page(
        self, db: Database, agency_id: int, registration_id: int, data: dict[str, Any], error: ValidationFailed
    ) -> Template:
        """The window's page again: the stored dates, then what was typed, with the messages."""
        context = self._window(db, agency_id, registration_id)
        return form_page("agencies/window.html", context, {**_window_values(context["window"]), **data}, error)

    @get("/{agency_id:int}/registrations/{registration_id:int}", sync_to_thread=True)
    def window_form(self, db: DatabaseDep, agency_id: FromPath[int], registration_id: FromPath[int]) -> Template:
        context = self._window(db, agency_id, registration_id)
        values = _window_values(context["window"])
        return Template("agencies/window.html", context={**context, "values": values, "errors": {}})

    @post("/{agency_id:int}/registrations/{registration_id:int}", sync_to_thread=True)
    def edit_window(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        agency_id: FromPath[int],
        registration_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                services.update_registration(
                    session,
                    services.get_registration(session, agency_id, registration_id),
                    registered_from=text(data, "registered_from"),
                    registered_to=text(data, "registered_to") or None,
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            return self._window_page(db, agency_id, registration_id, data, error)
        return done(request, f"/staff/agencies/{agency_id}", "Registration window saved.")

    @post("/{agency_id:int}/registrations/{registration_id:int}/withdraw", sync_to_thread=True)
    def withdraw_window(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        agency_id: FromPath[int],
        registration_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                services.withdraw_registration(
                    session,
                    services.get_registration(session, agency_id, registration_id),
                    reason=text(data, "reason"),
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            return self._window_page(db, agency_id, registration_id, data, error)
        return done(request, f"/staff/agencies/{agency_id}", "Registration window removed; it no longer counts.")


def _window_values(window: AgencyRegistration) -> dict[str, str]:
    return {
        "registered_from": window.registered_from.isoformat(),
        "registered_to": window.registered_to.isoformat() if window.registered_to else "",
    }
