"""Public HTML pages of the registry."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Template

from registry.providers.profile import public_profile, search_page
from registry.timeutil import today
from registry.web import DatabaseDep, SettingsDep


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
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
    ) -> Template:
        with db.read() as session:
            found = search_page(
                session,
                q=q,
                country=country or None,
                provider_type=None,
                status=status or None,
                page=page,
                per_page=25,
            )
        return Template(
            "providers/index.html",
            context={"found": found, "q": q or "", "country": country or "", "status": status or ""},
        )

    @get("/{provider_id:int}", sync_to_thread=True)
    def detail(self, db: DatabaseDep, settings: SettingsDep, provider_id: FromPath[int]) -> Template:
        with db.read() as session:
            profile = public_profile(session, provider_id, settings, today())
        return Template("providers/detail.html", context={"p": profile})
