"""Accounts: users, their roles and local passwords (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlmodel import Session, select

from registry.accounts.models import RoleMembership, User
from registry.agencies.models import Agency
from registry.audit.services import Actor, record_event
from registry.errors import FieldErrors
from registry.providers.models import Provider
from registry.vocabulary import ROLES

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
MIN_PASSWORD_LENGTH = 10


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
