from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from registry.timeutil import utcnow


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)
    display_name: str
    password_hash: str | None = None
    oidc_subject: str | None = Field(default=None, unique=True)
    is_active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow)


class SignInFailure(SQLModel, table=True):
    """One failed password sign-in; recent ones throttle further attempts (see accounts/throttle.py)."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of the address typed, so what people mistype into the field (a password) is never kept.
    account_key: str = Field(max_length=64, index=True)
    client_address: str = Field(max_length=64, index=True)
    failed_at: dt.datetime = Field(default_factory=utcnow, index=True)


class RoleMembership(SQLModel, table=True):
    """A role, scoped to an agency (editor, reviewer) or a provider (provider staff)."""

    __tablename__ = "role_membership"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str
    agency_id: int | None = Field(default=None, foreign_key="agency.id")
    provider_id: int | None = Field(default=None, foreign_key="provider.id")


class ProviderInvitation(SQLModel, table=True):
    """An invitation for one person to become staff of a provider; only the token's hash is kept."""

    __tablename__ = "provider_invitation"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    email: str
    invited_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    used_at: dt.datetime | None = None
    user_id: int | None = Field(default=None, foreign_key="user.id")


class WebSession(SQLModel, table=True):
    """A signed-in browser's server-side session; in the database so every worker shares it."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True, max_length=128)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: dt.datetime | None = Field(default=None, index=True)
    # Whose session it is, so a password change can end the user's other sessions.
    user_id: int | None = Field(default=None, index=True)
