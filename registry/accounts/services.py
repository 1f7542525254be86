"""Accounts: users, their roles and local passwords (argon2id)."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlmodel import Session, col, select

from registry.accounts import throttle
from registry.accounts.models import RoleMembership, User
from registry.accounts.throttle import ThrottleLimits
from registry.agencies.models import Agency
from registry.audit.services import Actor, record_event
from registry.errors import FieldErrors, NotFound, ValidationFailed
from registry.providers.models import Provider
from registry.vocabulary import ROLES

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
MIN_PASSWORD_LENGTH = 10
# Verified when the e-mail is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no-such-account-placeholder")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


def create_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    password: str | None,
    role: str,
    actor: Actor,
    agency_id: int | None = None,
    provider_id: int | None = None,
) -> User:
    errors = FieldErrors()
    clean_email = (errors.text("email", email, max_length=320) or "").lower()
    if clean_email and "@" not in clean_email:
        errors.add("email", "an e-mail address has an @")
    if clean_email and session.exec(select(User).where(User.email == clean_email)).first():
        errors.add("email", f"there is already an account for {clean_email}")
    name = errors.text("display_name", display_name)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors.add("password", f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    errors.choice("role", role, ROLES)
    if role in ("agency editor", "agency reviewer") and (agency_id is None or session.get(Agency, agency_id) is None):
        errors.add("agency_id", "an agency role names an existing agency")
    if role == "provider staff" and (provider_id is None or session.get(Provider, provider_id) is None):
        errors.add("provider_id", "provider staff belong to an existing provider")
    errors.raise_if_any()
    user = User(
        email=clean_email,
        display_name=name or clean_email,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    session.add(RoleMembership(user_id=user.id or 0, role=role, agency_id=agency_id, provider_id=provider_id))
    session.flush()
    record_event(
        session,
        actor,
        "user.create",
        user,
        after={"email": user.email, "role": role, "agency_id": agency_id, "provider_id": provider_id},
    )
    return user


WRONG_CREDENTIALS = "The e-mail address or the password is wrong."
THROTTLED = "Too many failed sign-ins from your network. Wait {minutes} minutes and try again."


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in attempt came to; failures are committed too, so they count."""

    user: User | None
    message: str = ""
    throttled: bool = False


def authenticate(session: Session, email: str, password: str, *, client: str, limits: ThrottleLimits) -> SignInOutcome:
    """Check a local password, giving away nothing about whether the account exists.

    Unknown, disabled and password-less accounts are answered in the same words after the same
    argon2 verification (against a dummy hash); repeated failures throttle this address, never the account.
    """
    if throttle.is_throttled(session, email, client, limits):
        minutes = int(limits.window.total_seconds() // 60)
        return SignInOutcome(None, THROTTLED.format(minutes=minutes), throttled=True)
    user = session.exec(select(User).where(User.email == (email or "").strip().lower())).first()
    usable = user is not None and user.is_active and bool(user.password_hash)
    matches = verify_password(user.password_hash if usable and user else _DUMMY_HASH, password)
    if usable and matches and user is not None:
        throttle.forget_failures(session, email, client)
        return SignInOutcome(user)
    throttle.record_failure(session, email, client, limits)
    pair, _ = throttle.failures(session, email, client, limits)
    if user is not None and pair == limits.per_account:
        # The audit trail says when an account's sign-ins from one address started being refused.
        record_event(
            session,
            SYSTEM_THROTTLE,
            "user.throttle",
            user,
            before={**_account_view(user), "client_address": client, "failed_sign_ins": pair - 1},
            after={**_account_view(user), "client_address": client, "failed_sign_ins": pair},
        )
    return SignInOutcome(None, WRONG_CREDENTIALS)


SYSTEM_THROTTLE = Actor("sign-in")


def _account_view(user: User) -> dict[str, object]:
    # Audit snapshots of accounts never carry the password hash.
    return {
        "email": user.email,
        "display_name": user.display_name,
        "is_active": user.is_active,
    }


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no account with id {user_id}.")
    return user


def memberships(session: Session, user_id: int) -> list[RoleMembership]:
    return list(session.exec(select(RoleMembership).where(RoleMembership.user_id == user_id)))


def list_users(session: Session) -> list[tuple[User, list[RoleMembership]]]:
    users = list(session.exec(select(User).order_by(col(User.email))))
    roles: dict[int, list[RoleMembership]] = {}
    for membership in session.exec(select(RoleMembership)):
        roles.setdefault(membership.user_id, []).append(membership)
    return [(user, roles.get(user.id or 0, [])) for user in users]


def change_password(session: Session, user: User, *, current: str, new: str, repeat: str, actor: Actor) -> User:
    errors = FieldErrors()
    if not verify_password(user.password_hash, current):
        errors.add("current_password", "this is not your current password")
    if len(new or "") < MIN_PASSWORD_LENGTH:
        errors.add("new_password", f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    elif new != repeat:
        errors.add("repeat_password", "the two new passwords differ")
    errors.raise_if_any()
    before = _account_view(user)
    user.password_hash = hash_password(new)
    session.add(user)
    record_event(session, actor, "user.password", user, before=before, after=_account_view(user))
    return user


def set_active(session: Session, user: User, *, active: bool, actor: Actor) -> User:
    before = _account_view(user)
    user.is_active = active
    session.add(user)
    record_event(
        session, actor, "user.enable" if active else "user.disable", user, before=before, after=_account_view(user)
    )
    return user


def lift_throttle(session: Session, user: User, *, limits: ThrottleLimits, actor: Actor) -> User:
    """An operator lets an account be tried again at once from every address."""
    recent = throttle.recent_failures_by_account(session, [user.email], limits).get(user.email, 0)
    throttle.forget_failures(session, user.email)
    record_event(
        session,
        actor,
        "user.unlock",
        user,
        before={**_account_view(user), "failed_sign_ins": recent},
        after={**_account_view(user), "failed_sign_ins": 0},
    )
    return user


def map_oidc_subject(session: Session, user: User, subject: str, *, actor: Actor) -> User:
    """Operators tie an account to a person's OpenID Connect subject (sub)."""
    clean = subject.strip()
    holder = session.exec(select(User).where(User.oidc_subject == clean)).first()
    if holder is not None and holder.id != user.id:
        raise ValidationFailed({"oidc_subject": "another account already has this OpenID Connect subject"})
    before = {**_account_view(user), "oidc_subject": user.oidc_subject}
    user.oidc_subject = clean or None
    session.add(user)
    record_event(
        session,
        actor,
        "user.oidc_map",
        user,
        before=before,
        after={**_account_view(user), "oidc_subject": user.oidc_subject},
    )
    return user


def user_for_oidc(session: Session, *, subject: str, email: str | None, email_verified: bool) -> User | None:
    """The account an OpenID Connect identity maps to: by subject, or once by verified e-mail.

    Operators map identities by creating the account with its role and either the subject or the
    e-mail; a first sign-in by e-mail binds the subject, so a later e-mail change at the provider
    does not move the identity to another account.
    """
    user = session.exec(select(User).where(User.oidc_subject == subject)).first()
    if user is None and email and email_verified:
        user = session.exec(
            select(User).where(User.email == email.strip().lower(), col(User.oidc_subject).is_(None))
        ).first()
        if user is not None:
            before = _account_view(user)
            user.oidc_subject = subject
            session.add(user)
            record_event(
                session,
                Actor("oidc"),
                "user.oidc_bind",
                user,
                before=before,
                after={**_account_view(user), "oidc_subject": subject},
            )
    if user is None or not user.is_active:
        return None
    return user
