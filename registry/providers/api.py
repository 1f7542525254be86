"""Public registry entries as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.openapi.spec import Example
from litestar.params import Parameter

from registry.api_docs import problem_responses
from registry.providers.profile import public_profile, search_page
from registry.timeutil import today
from registry.web import DatabaseDep, SettingsDep


class ProviderController(Controller):
    path = "/api/v1/providers"
    tags = ["Public registry"]

    @get("/", sync_to_thread=True, summary="Search providers by name or identifier", responses=problem_responses(400))
    def search(
        self,
        db: DatabaseDep,
        q: Annotated[
            str | None,
            Parameter(
                description="Part of a name, or a whole identifier",
                examples=[
                    Example(summary="By name", value="Northbridge"),
                    Example(summary="By identifier", value="DEQARINST9001"),
                ],
            ),
        ] = None,
        country: Annotated[
            str | None, Parameter(description="ISO 3166 two-letter code", max_length=2, examples=[Example(value="NL")])
        ] = None,
        type: Annotated[str | None, Parameter(description="Provider type, e.g. 'public HEI'")] = None,
        status: Annotated[str | None, Parameter(description="Current verdict status, e.g. trusted")] = None,
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        with db.read() as session:
            return search_page(
                session, q=q, country=country, provider_type=type, status=status, page=page, per_page=per_page
            )

    @get(
        "/{provider_id:int}",
        sync_to_thread=True,
        summary="A provider's public registry entry",
        responses=problem_responses(400, 404),
    )
    def detail(
        self,
        db: DatabaseDep,
        settings: SettingsDep,
        provider_id: Annotated[int, Parameter(description="The provider's registry id", examples=[Example(value=1)])],
    ) -> dict[str, Any]:
        with db.read() as session:
            return public_profile(session, provider_id, settings, today())
