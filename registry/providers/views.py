"""Public HTML pages of the registry."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session

from registry.accounts.guards import (
    EDITOR,
    OPERATOR,
    agency_staff,
    creating_agency,
    ensure_can_edit_provider,
    ensure_can_view_provider,
    identifier_origin_for,
    operator_only,
    principal_of,
    requires,
    signed_in,
)
from registry.audit.story import tell_all
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.flash import done
from registry.forms import FormData, form_page, text
from registry.providers import lookup, services
from registry.providers.identifiers import SCHEMES
from registry.providers.models import ProviderRelation, ProviderSuspension
from registry.providers.profile import (
    page_number,
    provider_history,
    public_profile,
    search_page,
    staff_profile,
)
from registry.submissions.services import warnings_by_result
from registry.timeutil import today
from registry.vocabulary import MERGER_RELATIONS, PROVIDER_TYPES
from registry.web import Database, DatabaseDep, SettingsDep

VERDICT_STATUSES = (
    "trusted",
    "trusted_with_conditions",
    "not_covered",
    "expired",
    "not_trusted",
    "suspended",
    "closed",
)


def _search(
    db: Database, *, q: str | None, country: str | None, provider_type: str | None, status: str | None, page: str | None
) -> dict[str, Any]:
    """A page of the provider search and its filters, as the public and the staff listing show them."""
    with db.read() as session:
        found = search_page(
            session,
            q=q,
            country=country or None,
            provider_type=provider_type or None,
            status=status or None,
            page=page_number(page),
            per_page=25,
        )
    filters = {"q": q or "", "country": country or "", "type": provider_type or "", "status": status or ""}
    return {"found": found, "filters": filters, "provider_types": PROVIDER_TYPES, "statuses": VERDICT_STATUSES}


class PublicProviderPages(Controller):
    path = "/providers"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def index(
        self,
        db: DatabaseDep,
        q: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        type: FromQuery[str | None] = None,
        page: FromQuery[str | None] = None,
    ) -> Template:
        context = _search(db, q=q, country=country, provider_type=type, status=status, page=page)
        return Template("providers/index.html", context={**context, **context["filters"]})

    @get("/{provider_id:int}", sync_to_thread=True)
    def detail(self, db: DatabaseDep, settings: SettingsDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            profile = public_profile(session, provider_id, settings, today())
        return Template("providers/detail.html", context={"p": profile})


def _provider_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": text(data, "name"),
        "country": text(data, "country"),
        "provider_type": text(data, "provider_type"),
        "website": text(data, "website") or None,
        "founded_on": text(data, "founded_on") or None,
        "closed_on": text(data, "closed_on") or None,
    }


def _form_context() -> dict[str, Any]:
    return {"provider_types": PROVIDER_TYPES, "schemes": tuple(SCHEMES)}


class StaffProviderPages(Controller):
    """Staff pages: search, the full provider page, and the provider forms."""

    path = "/staff/providers"
    include_in_schema = False
    guards = [signed_in]

    @get("/", sync_to_thread=True, guards=[agency_staff])
    def index(
        self,
        db: DatabaseDep,
        q: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
        type: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        page: FromQuery[str | None] = None,
    ) -> Template:
        context = _search(db, q=q, country=country, provider_type=type, status=status, page=page)
        return Template("providers/staff_index.html", context=context)

    @get("/new", sync_to_thread=False, guards=[requires(EDITOR)])
    def new(self) -> Template:
        return Template("providers/form.html", context={**_form_context(), "values": {}, "errors": {}})

    @post("/", sync_to_thread=True, guards=[requires(EDITOR)])
    def create(self, request: Request[Any, Any, Any], db: DatabaseDep, data: FormData) -> Template | Redirect:
        fields = _provider_fields(data)
        identifier = {"scheme": text(data, "scheme"), "value": text(data, "value")}
        try:
            with db.write() as session:
                provider = services.create_provider(
                    session,
                    services.ProviderInput(**fields, identifiers=[identifier] if identifier["value"] else []),
                    principal_of(request).actor,
                    created_by_agency_id=creating_agency(principal_of(request)),
                )
        except ValidationFailed as error:
            error.errors = {key.replace("identifiers[0].", ""): msg for key, msg in error.errors.items()}
            return form_page("providers/form.html", _form_context(), data, error)
        return done(request, f"/staff/providers/{provider.id}", f"Provider {fields['name']} created.")

    @get("/{provider_id:int}", sync_to_thread=True)
    def detail(
        self, request: Request[Any, Any, Any], db: DatabaseDep, settings: SettingsDep, provider_id: FromPath[int]
    ) -> Template:
        principal = principal_of(request)
        with db.read() as session:
            ensure_can_view_provider(session, principal, provider_id)
            profile = staff_profile(session, provider_id, settings, today())
            may = {
                "edit": _allowed(ensure_can_edit_provider, session, principal, provider_id),
                "identifiers": _allowed(identifier_origin_for, session, principal, provider_id),
                "results": principal.has(OPERATOR, EDITOR),
                "suspend": principal.is_operator,
                "merge": principal.is_operator and services.merger_of(session, provider_id) is None,
                "withdraw_relations": principal.is_operator,
            }
            warnings = warnings_by_result(session, [r["id"] for r in profile["results"]])
        editable = {
            r["id"]
            for r in profile["results"]
            if principal.is_operator or r["agency"]["id"] in principal.agency_ids(EDITOR)
        }
        return Template(
            "providers/staff_detail.html",
            context={"p": profile, "may": may, "editable_results": editable, "submission_warnings": warnings},
        )

    @get("/{provider_id:int}/edit", sync_to_thread=True)
    def edit_form(self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            ensure_can_edit_provider(session, principal_of(request), provider_id)
            current = _current_values(session, provider_id)
        return Template(
            "providers/form.html",
            context={**_form_context(), "values": current, "errors": {}, "provider_id": provider_id},
        )

    @post("/{provider_id:int}/edit", sync_to_thread=True)
    def edit(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)
        context = {**_form_context(), "provider_id": provider_id}
        try:
            with db.write() as session:
                ensure_can_edit_provider(session, principal, provider_id)
                provider = services.get_provider(session, provider_id)
                services.update_provider(
                    session, provider, _provider_fields(data), principal.actor, _int(text(data, "version"))
                )
        except Conflict as error:
            with db.read() as session:
                current = _current_values(session, provider_id)
                since = tell_all(
                    session,
                    [
                        event
                        for event in provider_history(session, provider_id)
                        if event.entity_type == "provider"
                        and (event.after or {}).get("version", 0) > _int(text(data, "version"))
                    ],
                )
            return Template(
                "providers/conflict.html",
                context={
                    **context,
                    "detail": error.detail,
                    "current": current,
                    "yours": _provider_fields(data),
                    "values": {**_provider_fields(data), "version": current["version"]},
                    "errors": {},
                    "since": since,
                },
                status_code=409,
            )
        except ValidationFailed as error:
            return form_page("providers/form.html", context, data, error)
        return done(request, f"/staff/providers/{provider_id}", "Master data saved.")

    @get("/{provider_id:int}/identifiers", sync_to_thread=True)
    def identifier_form(self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            origin = identifier_origin_for(session, principal_of(request), provider_id)
            name = services.display_name(session, provider_id)
        return Template(
            "providers/identifier_form.html",
            context={
                **_form_context(),
                "values": {},
                "errors": {},
                "provider_id": provider_id,
                "name": name,
                "origin": origin,
            },
        )

    @post("/{provider_id:int}/identifiers", sync_to_thread=True)
    def add_identifier(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        principal = principal_of(request)
        origin = ""
        try:
            with db.write() as session:
                origin = identifier_origin_for(session, principal, provider_id)
                provider = services.get_provider(session, provider_id)
                services.add_identifier(
                    session,
                    provider,
                    scheme=text(data, "scheme"),
                    value=text(data, "value"),
                    valid_from=text(data, "valid_from") or None,
                    valid_to=text(data, "valid_to") or None,
                    origin=origin,
                    actor=principal.actor,
                )
        except ValidationFailed as error:
            with db.read() as session:
                name = services.display_name(session, provider_id)
            context = {**_form_context(), "provider_id": provider_id, "name": name, "origin": origin}
            return form_page("providers/identifier_form.html", context, data, error)
        return done(request, f"/staff/providers/{provider_id}", f"Identifier {text(data, 'value')} added.")

    @get("/lookup", sync_to_thread=True)
    def lookup(self, db: DatabaseDep, q: FromQuery[str] = "") -> list[dict[str, object]]:
        """Suggestions for the provider pickers: names containing the typed text, accents ignored."""
        with db.read() as session:
            return lookup.suggest(session, q[:200])

    @get("/{provider_id:int}/merger", sync_to_thread=True, guards=[operator_only])
    def merger_form(self, db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            name = services.display_name(session, services.get_provider(session, provider_id).id or 0)
        return Template(
            "providers/merger.html", context={"values": {}, "errors": {}, "provider_id": provider_id, "name": name}
        )

    @post("/{provider_id:int}/merger", sync_to_thread=True, guards=[operator_only])
    def record_merger(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        candidates: dict[str, Any] = {}
        try:
            with db.write() as session:
                provider = services.get_provider(session, provider_id)
                if text(data, "kind") not in MERGER_RELATIONS:
                    raise ValidationFailed({"kind": "choose whether the provider was absorbed or merged into another"})
                successor_id, refusal = lookup.picked(session, data, "related_provider_id", "successor")
                if refusal is not None:
                    error, candidates = refusal
                    raise error
                services.add_relation(
                    session,
                    provider,
                    kind=text(data, "kind"),
                    related_provider_id=successor_id,
                    valid_from=text(data, "valid_from"),
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            with db.read() as session:
                name = services.display_name(session, provider_id)
            context = {"provider_id": provider_id, "name": name, "candidates": candidates}
            return form_page("providers/merger.html", context, data, error)
        return done(request, f"/staff/providers/{provider_id}", "Merger recorded.")

    @get("/{provider_id:int}/relations/{relation_id:int}/withdraw", sync_to_thread=True, guards=[operator_only])
    def relation_withdraw_form(
        self, db: DatabaseDep, provider_id: FromPath[int], relation_id: FromPath[int]
    ) -> Template:
        with db.read() as session:
            context = _relation_context(session, provider_id, relation_id)
        return Template("providers/relation_withdraw.html", context={**context, "values": {}, "errors": {}})

    @post("/{provider_id:int}/relations/{relation_id:int}/withdraw", sync_to_thread=True, guards=[operator_only])
    def withdraw_relation(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        provider_id: FromPath[int],
        relation_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                relation = _relation_context(session, provider_id, relation_id)["relation"]
                services.withdraw_relation(
                    session, relation, reason=text(data, "reason"), actor=principal_of(request).actor
                )
        except ValidationFailed as error:
            with db.read() as session:
                context = _relation_context(session, provider_id, relation_id)
            return form_page("providers/relation_withdraw.html", context, data, error)
        return done(
            request, f"/staff/providers/{provider_id}", "The relation is withdrawn; it no longer counts in any verdict."
        )

    @get("/{provider_id:int}/suspend", sync_to_thread=True, guards=[operator_only])
    def suspend_form(self, db: DatabaseDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            name = services.display_name(session, services.get_provider(session, provider_id).id or 0)
        return Template(
            "providers/suspend.html", context={"values": {}, "errors": {}, "provider_id": provider_id, "name": name}
        )

    @post("/{provider_id:int}/suspend", sync_to_thread=True, guards=[operator_only])
    def suspend(
        self, request: Request[Any, Any, Any], db: DatabaseDep, provider_id: FromPath[int], data: FormData
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                services.suspend(
                    session,
                    services.get_provider(session, provider_id),
                    suspended_from=text(data, "suspended_from"),
                    suspended_to=text(data, "suspended_to") or None,
                    reason=text(data, "reason"),
                    actor=principal_of(request).actor,
                )
        except ValidationFailed as error:
            with db.read() as session:
                name = services.display_name(session, provider_id)
            return form_page("providers/suspend.html", {"provider_id": provider_id, "name": name}, data, error)
        return done(request, f"/staff/providers/{provider_id}", "Provider suspended.")

    @get("/{provider_id:int}/suspensions/{suspension_id:int}", sync_to_thread=True, guards=[operator_only])
    def suspension_form(self, db: DatabaseDep, provider_id: FromPath[int], suspension_id: FromPath[int]) -> Template:
        with db.read() as session:
            context = _suspension_context(session, provider_id, suspension_id)
        values = {"ends_on": today().isoformat()}
        return Template("providers/suspension.html", context={**context, "values": values, "errors": {}})

    @post("/{provider_id:int}/suspensions/{suspension_id:int}/end", sync_to_thread=True, guards=[operator_only])
    def end_suspension(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        provider_id: FromPath[int],
        suspension_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        ends_on = text(data, "ends_on") or today().isoformat()
        try:
            with db.write() as session:
                suspension = _suspension_context(session, provider_id, suspension_id)["suspension"]
                services.end_suspension(session, suspension, ends_on=ends_on, actor=principal_of(request).actor)
        except ValidationFailed as error:
            error.errors = {"ends_on" if key == "suspended_to" else key: msg for key, msg in error.errors.items()}
            with db.read() as session:
                context = _suspension_context(session, provider_id, suspension_id)
            return form_page("providers/suspension.html", context, {**data, "ends_on": ends_on}, error)
        return done(request, f"/staff/providers/{provider_id}", f"The suspension ends on {ends_on}.")

    @post("/{provider_id:int}/suspensions/{suspension_id:int}/cancel", sync_to_thread=True, guards=[operator_only])
    def cancel_suspension(
        self,
        request: Request[Any, Any, Any],
        db: DatabaseDep,
        provider_id: FromPath[int],
        suspension_id: FromPath[int],
        data: FormData,
    ) -> Template | Redirect:
        try:
            with db.write() as session:
                suspension = _suspension_context(session, provider_id, suspension_id)["suspension"]
                services.cancel_suspension(
                    session, suspension, reason=text(data, "reason"), actor=principal_of(request).actor
                )
        except ValidationFailed as error:
            with db.read() as session:
                context = _suspension_context(session, provider_id, suspension_id)
            return form_page("providers/suspension.html", context, data, error)
        return done(
            request,
            f"/staff/providers/{provider_id}",
            "The suspension is cancelled; it no longer counts in any verdict.",
        )


def _relation_context(session: Session, provider_id: int, relation_id: int) -> dict[str, Any]:
    relation = session.get(ProviderRelation, relation_id)
    if relation is None or provider_id not in (relation.provider_id, relation.related_provider_id):
        raise NotFound(f"This provider has no relation {relation_id}.")
    return {
        "relation": relation,
        "provider_id": provider_id,
        "name": services.display_name(session, provider_id),
        "provider_name": services.display_name(session, relation.provider_id),
        "related_name": services.display_name(session, relation.related_provider_id),
        "is_merger": relation.kind in MERGER_RELATIONS,
    }


def _suspension_context(session: Session, provider_id: int, suspension_id: int) -> dict[str, Any]:
    suspension = session.get(ProviderSuspension, suspension_id)
    if suspension is None or suspension.provider_id != provider_id:
        raise NotFound(f"This provider has no suspension {suspension_id}.")
    return {"suspension": suspension, "provider_id": provider_id, "name": services.display_name(session, provider_id)}


def _allowed(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except PermissionDeniedException:
        return False
    return True


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _current_values(session: Session, provider_id: int) -> dict[str, Any]:
    provider = services.get_provider(session, provider_id)
    official = services.current_name(session, provider_id, "official")
    return {
        "name": official.name if official else "",
        "country": provider.country_iso2,
        "provider_type": provider.provider_type,
        "website": provider.website or "",
        "founded_on": provider.founded_on.isoformat() if provider.founded_on else "",
        "closed_on": provider.closed_on.isoformat() if provider.closed_on else "",
        "version": provider.version,
    }
