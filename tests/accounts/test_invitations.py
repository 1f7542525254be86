"""Invitations for provider staff: hashed single-use tokens that expire and create the staff account."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlmodel import Session, select

from registry.accounts import invitations as inv
from registry.accounts.models import ProviderInvitation, RoleMembership, User
from registry.accounts.roles import is_provider_staff, memberships
from registry.accounts.services import create_user, verify_password
from registry.audit.services import Actor, history
from registry.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from registry.providers.models import Provider
from registry.settings import Settings
from tests import factories as f

OPERATOR = [RoleMembership(user_id=1, role="operator")]


@pytest.fixture
def provider(session: Session) -> Provider:
    return f.provider(session)


class TestInvitation:
    def test_only_the_hash_of_the_token_is_stored(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        invitation, token = inv.create_invitation(
            session, provider, email="New.Staff@Provider.example", roles=OPERATOR, actor=f.TEST, settings=settings
        )
        assert len(token) >= 40 and token not in invitation.token_hash
        assert invitation.token_hash == inv.token_hash(token)
        assert invitation.email == "new.staff@provider.example"
        assert invitation.expires_at - invitation.created_at == dt.timedelta(days=14)

    def test_accepting_creates_provider_staff(self, session: Session, provider: Provider, settings: Settings) -> None:
        _, token = inv.create_invitation(
            session, provider, email="staff@provider.example", roles=OPERATOR, actor=f.TEST, settings=settings
        )
        user = inv.join_by_invitation(session, token, display_name="Sam Staff", password="long enough password")
        assert user.email == "staff@provider.example" and verify_password(user.password_hash, "long enough password")
        assert is_provider_staff(memberships(session, user.id or 0), provider.id or 0)
        invitation = session.exec(select(ProviderInvitation)).one()
        assert invitation.used_at is not None and invitation.user_id == user.id

    def test_single_use(self, session: Session, provider: Provider, settings: Settings) -> None:
        _, token = inv.create_invitation(
            session, provider, email="once@provider.example", roles=OPERATOR, actor=f.TEST, settings=settings
        )
        inv.join_by_invitation(session, token, display_name="Once", password=None)
        with pytest.raises(Conflict, match="used already"):
            inv.join_by_invitation(session, token, display_name="Twice", password=None)

    def test_expired_and_unknown_tokens_are_refused(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        invitation, token = inv.create_invitation(
            session,
            provider,
            email="late@provider.example",
            roles=OPERATOR,
            actor=f.TEST,
            settings=dataclasses.replace(settings, invitation_days=1),
        )
        invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        session.add(invitation)
        session.flush()
        with pytest.raises(Conflict, match="expired"):
            inv.join_by_invitation(session, token, display_name="Late", password=None)
        with pytest.raises(NotFound):
            inv.join_by_invitation(session, token + "x", display_name="Guess", password=None)
        assert session.exec(select(User).where(User.email == "late@provider.example")).first() is None

    def test_a_refused_form_leaves_the_invitation_usable(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        _, token = inv.create_invitation(
            session, provider, email="retry@provider.example", roles=OPERATOR, actor=f.TEST, settings=settings
        )
        with pytest.raises(ValidationFailed, match="password"):
            inv.join_by_invitation(session, token, display_name="Retry", password="short")
        assert session.exec(select(ProviderInvitation)).one().used_at is None

    def test_an_existing_account_gets_the_role_only_when_its_owner_accepts(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        existing = create_user(
            session,
            email="known@provider.example",
            display_name="Known",
            password="the owner's password",
            role="provider staff",
            actor=f.TEST,
            provider_id=f.provider(session).id,
        )
        _, token = inv.create_invitation(
            session, provider, email="known@provider.example", roles=OPERATOR, actor=f.TEST, settings=settings
        )
        # Whoever holds the link cannot set this account's password, nor have the role added without it.
        with pytest.raises(Conflict, match="already an account"):
            inv.join_by_invitation(session, token, display_name="Taker", password="the taker's password")
        assert verify_password(existing.password_hash, "the owner's password")
        assert not is_provider_staff(memberships(session, existing.id or 0), provider.id or 0)
        stranger = create_user(
            session,
            email="other@x.example",
            display_name="O",
            password=None,
            role="provider staff",
            actor=f.TEST,
            provider_id=provider.id,
        )
        with pytest.raises(PermissionDenied, match="another e-mail address"):
            inv.accept_as(session, token, stranger)

        assert inv.accept_as(session, token, existing).id == existing.id
        assert is_provider_staff(memberships(session, existing.id or 0), provider.id or 0)
        grant = next(e for e in history(session, "user", existing.id or 0) if e.action == "user.role_grant")
        assert grant.actor_user_id == existing.id
        assert grant.before is not None and len(grant.before["roles"]) == 1
        assert (
            grant.after is not None
            and {"role": "provider staff", "agency_id": None, "provider_id": provider.id} in grant.after["roles"]
        )

    def test_agency_accounts_become_provider_staff_only_through_an_operator(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        agency = f.agency(session)
        f.result(session, agency, [provider])
        reviewer = create_user(
            session,
            email="reviewer@agency.example",
            display_name="R",
            password=None,
            role="agency reviewer",
            actor=f.TEST,
            agency_id=agency.id,
        )
        staff = create_user(
            session,
            email="staff@p.example",
            display_name="S",
            password=None,
            role="provider staff",
            actor=f.TEST,
            provider_id=provider.id,
        )
        operator = create_user(
            session, email="op@registry.example", display_name="Op", password=None, role="operator", actor=f.TEST
        )
        _, by_staff = inv.create_invitation(
            session,
            provider,
            email=reviewer.email,
            roles=memberships(session, staff.id or 0),
            actor=Actor(staff.email, staff.id),
            settings=settings,
        )
        with pytest.raises(PermissionDenied, match="only an operator"):
            inv.accept_as(session, by_staff, reviewer)
        assert [m.role for m in memberships(session, reviewer.id or 0)] == ["agency reviewer"]
        _, by_operator = inv.create_invitation(
            session,
            provider,
            email=reviewer.email,
            roles=memberships(session, operator.id or 0),
            actor=Actor(operator.email, operator.id),
            settings=settings,
        )
        inv.accept_as(session, by_operator, reviewer)
        assert is_provider_staff(memberships(session, reviewer.id or 0), provider.id or 0)

    def test_who_may_invite(self, session: Session, provider: Provider, settings: Settings) -> None:
        covering, other = f.agency(session), f.agency(session)
        f.result(session, covering, [provider])

        def invite(*roles: RoleMembership) -> None:
            inv.create_invitation(
                session, provider, email="x@provider.example", roles=list(roles), actor=f.TEST, settings=settings
            )

        invite(RoleMembership(user_id=1, role="provider staff", provider_id=provider.id))
        invite(RoleMembership(user_id=1, role="agency editor", agency_id=covering.id))
        for refused in (
            RoleMembership(user_id=1, role="provider staff", provider_id=f.provider(session).id),
            RoleMembership(user_id=1, role="agency editor", agency_id=other.id),
            RoleMembership(user_id=1, role="agency reviewer", agency_id=covering.id),
        ):
            with pytest.raises(PermissionDenied):
                invite(refused)

    def test_email_is_validated(self, session: Session, provider: Provider, settings: Settings) -> None:
        with pytest.raises(ValidationFailed) as caught:
            inv.create_invitation(session, provider, email="nobody", roles=OPERATOR, actor=f.TEST, settings=settings)
        assert "email" in caught.value.errors
