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


def may_invite(session: Session, roles: Sequence[RoleMembership], provider_id: int) -> bool:
    """The provider's own staff, an editor of an agency with results about it, or an operator."""
    return (
        is_operator(roles)
        or is_provider_staff(roles, provider_id)
        or bool(agency_ids(roles, "agency editor") & covering_agencies(session, provider_id))
    )


def ensure_may_invite(session: Session, roles: Sequence[RoleMembership], provider_id: int) -> None:
    if not may_invite(session, roles, provider_id):
        raise PermissionDenied("Only the provider's staff, an editor of a covering agency or an operator can invite.")


def create_invitation(
    session: Session,
    provider: Provider,
    *,
    email: str,
    roles: Sequence[RoleMembership],
    actor: Actor,
    settings: Settings,
) -> tuple[ProviderInvitation, str]:
    """The invitation and its token; the token goes only into the e-mail to the invited address."""
    provider_id = provider.id or 0
    ensure_may_invite(session, roles, provider_id)
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


def open_invitation(session: Session, token: str) -> ProviderInvitation:
    """The unused, unexpired invitation this token belongs to."""
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
    return invitation


def invited_account(session: Session, invitation: ProviderInvitation) -> User | None:
    return session.exec(select(User).where(User.email == invitation.email)).first()


def join_by_invitation(session: Session, token: str, *, display_name: str, password: str | None) -> User:
    """A new account for the invited address, as provider staff.

    An address that has an account already is never given a password here: whoever holds the link
    would otherwise take over that account. Its owner signs in and accepts instead.
    """
    invitation = open_invitation(session, token)
    if invited_account(session, invitation) is not None:
        raise Conflict(
            f"There is already an account for {invitation.email}. Sign in to it, then open this link again to accept."
        )
    actor = Actor(f"invitation:{invitation.email}")
    user = create_user(
        session,
        email=invitation.email,
        display_name=display_name,
        password=password,
        role="provider staff",
        actor=actor,
        provider_id=invitation.provider_id,
    )
    _spend(session, invitation, user, Actor(actor.label, user.id))
    return user


def accept_as(session: Session, token: str, user: User) -> User:
    """The signed-in owner of the invited address accepts: the account becomes staff of the provider too.

    Provider staff rights on an account that works for an agency or runs the registry change what that
    account may do (a reviewer who is also provider staff is kept from reviewing): only an operator grants that.
    """
    invitation = open_invitation(session, token)
    if user.email != invitation.email:
        raise PermissionDenied(
            "This invitation was sent to another e-mail address. Sign out, then sign in with the invited account."
        )
    actor = Actor(user.email, user.id)
    roles = memberships(session, user.id or 0)
    if any(m.role != "provider staff" for m in roles) and not _by_operator(session, invitation):
        raise PermissionDenied(
            "Your account has an agency or operator role; only an operator can also make it provider staff. "
            "Ask the registry's operators."
        )
    if not is_provider_staff(roles, invitation.provider_id):
        membership = RoleMembership(user_id=user.id or 0, role="provider staff", provider_id=invitation.provider_id)
        session.add(membership)
        session.flush()
        # In the account's own history, where an operator looks for how it came by its rights.
        record_event(
            session,
            actor,
            "user.role_grant",
            user,
            before={"roles": [_role_view(m) for m in roles]},
            after={"roles": [_role_view(m) for m in [*roles, membership]], "invitation_id": invitation.id},
        )
    _spend(session, invitation, user, actor)
    return user


def _by_operator(session: Session, invitation: ProviderInvitation) -> bool:
    inviter = invitation.invited_by_user_id
    return inviter is not None and is_operator(memberships(session, inviter))


def _role_view(membership: RoleMembership) -> dict[str, object]:
    return {"role": membership.role, "agency_id": membership.agency_id, "provider_id": membership.provider_id}


def _spend(session: Session, invitation: ProviderInvitation, user: User, actor: Actor) -> None:
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
        actor,
        "invitation.accept",
        invitation,
        after={"provider_id": invitation.provider_id, "email": invitation.email, "user_id": user.id},
    )
