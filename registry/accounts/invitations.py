"""Invitations for provider staff: a link with a random token; only the token's SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.accounts.models import ProviderInvitation, RoleMembership, User
from registry.accounts.roles import agency_ids, is_operator, is_provider_staff, memberships
from registry.accounts.services import create_user
from registry.audit.services import Actor, record_event
from registry.errors import Conflict, FieldErrors, NotFound, PermissionDenied
from registry.providers.models import Provider
from registry.qa.services import covering_agencies
from registry.settings import Settings
from registry.timeutil import utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_invitation(
    session: Session,
    provider: Provider,
    *,
    email: str,
    roles: Sequence[RoleMembership],
    actor: Actor,
    settings: Settings,
) -> tuple[ProviderInvitation, str]:
    """The invitation and its token; the token is shown once (in the link sent) and never stored."""
    provider_id = provider.id or 0
    allowed = (
        is_operator(roles)
        or is_provider_staff(roles, provider_id)
        or bool(agency_ids(roles, "agency editor") & covering_agencies(session, provider_id))
    )
    if not allowed:
        raise PermissionDenied("Only the provider's staff, an editor of a covering agency or an operator can invite.")
    errors = FieldErrors()
    address = (errors.text("email", email, max_length=320) or "").lower()
    if address and "@" not in address:
        errors.add("email", "an e-mail address has an @")
    errors.raise_if_any()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = ProviderInvitation(
        token_hash=token_hash(token),
        provider_id=provider_id,
        email=address,
        invited_by_user_id=actor.user_id,
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.invitation_days),
    )
    session.add(invitation)
    session.flush()
    record_event(
        session,
        actor,
        "invitation.create",
        invitation,
        after={"provider_id": provider_id, "email": address, "expires_at": invitation.expires_at.isoformat()},
    )
    return invitation, token


def accept_invitation(session: Session, token: str, *, display_name: str, password: str | None) -> User:
    """Make the invited person provider staff: a new account, or a new role for an existing one."""
    invitation = session.exec(
        select(ProviderInvitation).where(ProviderInvitation.token_hash == token_hash(token))
    ).first()
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    if invitation.used_at is not None:
        raise Conflict("This invitation has been used already.")
    expires_at = invitation.expires_at if invitation.expires_at.tzinfo else invitation.expires_at.replace(tzinfo=dt.UTC)
    if expires_at <= utcnow():
        raise Conflict("This invitation has expired; ask for a new one.")
    actor = Actor(f"invitation:{invitation.email}")
    user = session.exec(select(User).where(User.email == invitation.email)).first()
    if user is None:
        user = create_user(
            session,
            email=invitation.email,
            display_name=display_name,
            password=password,
            role="provider staff",
            actor=actor,
            provider_id=invitation.provider_id,
        )
    elif not is_provider_staff(memberships(session, user.id or 0), invitation.provider_id):
        membership = RoleMembership(user_id=user.id or 0, role="provider staff", provider_id=invitation.provider_id)
        session.add(membership)
        session.flush()
        record_event(session, actor, "role.grant", membership)
    # Spend the token last, with a guarded update: a refused form leaves it usable, and two
    # simultaneous acceptances cannot both succeed (the loser's transaction is rolled back).
    claimed = session.execute(
        update(ProviderInvitation)
        .where(col(ProviderInvitation.id) == invitation.id, col(ProviderInvitation.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This invitation has been used already.")
    session.refresh(invitation)
    invitation.user_id = user.id
    session.add(invitation)
    record_event(
        session,
        Actor(actor.label, user.id),
        "invitation.accept",
        invitation,
        after={"provider_id": invitation.provider_id, "email": invitation.email, "user_id": user.id},
    )
    return user
