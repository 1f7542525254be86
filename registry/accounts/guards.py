"""Who is asking, and what they may do (DESIGN.md §4), as guards and checks that refuse with 403.

Role guards sit on the handlers; checks that need a record (whose result, which provider) run inside
the handler's database session and raise the same PermissionDeniedException.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlmodel import Session, col, select

from registry.accounts.models import RoleMembership, User
from registry.audit.services import Actor
from registry.providers.models import Provider
from registry.qa.models import QAResult, QAResultProvider
from registry.web import Database

OPERATOR = "operator"
EDITOR = "agency editor"
REVIEWER = "agency reviewer"
PROVIDER_STAFF = "provider staff"
AGENCY_ROLES = (EDITOR, REVIEWER)


@dataclass(frozen=True)
class Principal:
    """A signed-in user and their roles, loaded once per request."""

    user_id: int
    email: str
    display_name: str
    roles: tuple[tuple[str, int | None, int | None], ...]  # (role, agency_id, provider_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.email, self.user_id)

    @property
    def is_operator(self) -> bool:
        return self.has(OPERATOR)

    def has(self, *roles: str) -> bool:
        return any(role in roles for role, _, _ in self.roles)

    def agency_ids(self, *roles: str) -> set[int]:
        wanted = roles or AGENCY_ROLES
        return {agency for role, agency, _ in self.roles if role in wanted and agency is not None}

    def provider_ids(self) -> set[int]:
        return {provider for role, _, provider in self.roles if role == PROVIDER_STAFF and provider is not None}


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal a guard has loaded; only for guarded handlers."""
    principal = connection.scope.get("state", {}).get("principal")
    if principal is None:
        raise NotAuthorizedException("Sign in to see this page.")
    return principal  # type: ignore[no-any-return]


def load_principal(session: Session, user_id: int) -> Principal | None:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    rows = session.exec(select(RoleMembership).where(RoleMembership.user_id == user_id))
    roles = tuple((m.role, m.agency_id, m.provider_id) for m in rows)
    return Principal(user.id or 0, user.email, user.display_name, roles)


async def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The signed-in user, cached on the request; a disabled account counts as signed out."""
    state = connection.scope.setdefault("state", {})
    if "principal" in state:
        return state["principal"]  # type: ignore[no-any-return]
    user_id = connection.session.get("user_id") if connection.scope.get("session") else None
    principal = None
    if isinstance(user_id, int):
        database: Database = connection.app.state.database

        def _load() -> Principal | None:
            with database.read() as session:
                return load_principal(session, user_id)

        principal = await anyio.to_thread.run_sync(_load)
    state["principal"] = principal
    return principal


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if await current_principal(connection) is None:
        raise NotAuthorizedException("Sign in to see this page.")


def requires(*roles: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]:
    """A guard admitting users holding one of these roles (operators always)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await current_principal(connection)
        if principal is None:
            raise NotAuthorizedException("Sign in to see this page.")
        if not principal.has(OPERATOR, *roles):
            raise PermissionDeniedException("Your role does not allow this.")

    return guard


operator_only = requires(OPERATOR)
agency_staff = requires(EDITOR, REVIEWER)


def provider_agencies(session: Session, provider_id: int) -> set[int]:
    """Agencies that have recorded a result about the provider, and the agency that created its entry."""
    query = (
        select(QAResult.agency_id)
        .join(QAResultProvider, col(QAResultProvider.result_id) == QAResult.id)
        .where(QAResultProvider.provider_id == provider_id)
    )
    agencies = set(session.exec(query))
    creator = session.exec(select(Provider.created_by_agency_id).where(Provider.id == provider_id)).first()
    if creator is not None:
        agencies.add(creator)
    return agencies


def creating_agency(principal: Principal) -> int | None:
    """The agency a new provider entry is recorded as created by: the editor's own (the lowest id if several)."""
    return min(principal.agency_ids(EDITOR), default=None)


def ensure_can_view_provider(session: Session, principal: Principal, provider_id: int) -> None:
    if principal.has(OPERATOR, EDITOR, REVIEWER) or provider_id in principal.provider_ids():
        return
    raise PermissionDeniedException("You may only see your own provider's staff page.")


def ensure_can_edit_provider(session: Session, principal: Principal, provider_id: int) -> None:
    """Operators, and editors of an agency with results about the provider or that created it, edit its master data."""
    if principal.is_operator or principal.agency_ids(EDITOR) & provider_agencies(session, provider_id):
        return
    raise PermissionDeniedException("Only editors of an agency with results about this provider may edit it.")


def identifier_origin_for(session: Session, principal: Principal, provider_id: int) -> str:
    """The origin an identifier gets from this user: agencies establish, provider staff only claim."""
    if principal.is_operator or principal.agency_ids(EDITOR) & provider_agencies(session, provider_id):
        return "agency"
    if provider_id in principal.provider_ids():
        # A claim never resolves in the trust API until the provider proves control of it.
        return "claimed"
    raise PermissionDeniedException("You may not add identifiers to this provider.")


def recordable_agencies(principal: Principal, all_agency_ids: list[int]) -> list[int]:
    """Agencies this user may record results for: operators any, editors their own."""
    if principal.is_operator:
        return all_agency_ids
    return [agency for agency in all_agency_ids if agency in principal.agency_ids(EDITOR)]


def ensure_can_change_result(principal: Principal, result: QAResult) -> None:
    if principal.is_operator or result.agency_id in principal.agency_ids(EDITOR):
        return
    raise PermissionDeniedException("Only editors of the agency that recorded this result may change it.")
