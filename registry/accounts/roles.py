"""Questions about a user's roles that the domain rules ask (who may review, confirm, download)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from registry.accounts.models import RoleMembership


def memberships(session: Session, user_id: int) -> list[RoleMembership]:
    return list(session.exec(select(RoleMembership).where(RoleMembership.user_id == user_id)))


def is_operator(roles: Sequence[RoleMembership]) -> bool:
    return any(m.role == "operator" for m in roles)


def is_provider_staff(roles: Sequence[RoleMembership], provider_id: int) -> bool:
    return any(m.role == "provider staff" and m.provider_id == provider_id for m in roles)


def agency_ids(roles: Sequence[RoleMembership], *role_names: str) -> set[int]:
    """Agencies the user works for in one of these roles (all agency roles when none is named)."""
    wanted = role_names or ("agency editor", "agency reviewer")
    return {m.agency_id for m in roles if m.role in wanted and m.agency_id is not None}
