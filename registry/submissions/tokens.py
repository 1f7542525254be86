"""API tokens: an agency's machines act for it with a bearer secret the registry keeps only as a hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry.agencies.models import Agency
from registry.audit.services import Actor, record_event
from registry.errors import FieldErrors, NotFound, PermissionDenied
from registry.submissions.models import ApiToken
from registry.timeutil import utcnow

# providers:create lets a submission add a provider the registry does not hold yet, from the master data it sends.
SCOPES = ("results:submit", "results:read", "providers:create")
# A recognisable prefix lets secret scanners and people spot a leaked registry token.
SECRET_PREFIX = "qareg_"
MAX_LIFETIME_DAYS = 731


def hash_secret(secret: str) -> str:
    # The secret is 32 random bytes: a fast hash suffices, there is nothing to guess.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenHolder:
    """Who a bearer token speaks for: the token, on behalf of its agency."""

    token_id: int
    agency_id: int
    agency_acronym: str
    name: str
    scopes: tuple[str, ...]

    @property
    def actor(self) -> Actor:
        return Actor(f"api token {self.token_id} ({self.name}) for {self.agency_acronym}")


def create_token(
    session: Session, *, agency_id: int, name: str, expires_on: object, scopes: list[str], actor: Actor
) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is returned once and never stored."""
    errors = FieldErrors()
    if session.get(Agency, agency_id) is None:
        errors.add("agency_id", f"there is no agency with id {agency_id}")
    clean_name = errors.text("name", name, max_length=100)
    day = errors.date("expires_on", expires_on, required=True)
    today = utcnow().date()
    if day is not None and day <= today:
        errors.add("expires_on", "a token must expire after today")
    elif day is not None and day > today + dt.timedelta(days=MAX_LIFETIME_DAYS):
        errors.add("expires_on", f"a token lives at most {MAX_LIFETIME_DAYS} days; make a new one later")
    chosen = sorted(set(scopes))
    if not chosen:
        errors.add("scopes", f"choose at least one of: {', '.join(SCOPES)}")
    for scope in chosen:
        if scope not in SCOPES:
            errors.add("scopes", f"{scope!r} is not one of: {', '.join(SCOPES)}")
    errors.raise_if_any()
    assert day is not None and clean_name is not None
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        agency_id=agency_id,
        name=clean_name,
        token_hash=hash_secret(secret),
        prefix=secret[:12],
        scopes=chosen,
        created_by_user_id=actor.user_id,
        expires_at=dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC),
    )
    session.add(token)
    session.flush()
    record_event(session, actor, "api_token.create", token)
    return token, secret


def revoke_token(session: Session, token: ApiToken, *, actor: Actor) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        record_event(session, actor, "api_token.revoke", token)
    return token


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"There is no API token with id {token_id}.")
    return token


def tokens_of(session: Session, agency_ids: set[int] | None) -> list[ApiToken]:
    """Tokens of these agencies (None: every agency), newest first."""
    query = select(ApiToken).order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    if agency_ids is not None:
        query = query.where(col(ApiToken.agency_id).in_(agency_ids))
    return list(session.exec(query))


class InvalidToken(Exception):
    """The bearer secret is missing, unknown, expired or revoked (401)."""


def authenticate(session: Session, authorization: str | None) -> TokenHolder:
    """The holder of an `Authorization: Bearer` secret; notes when the token was last used."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise InvalidToken("Send an API token as `Authorization: Bearer <token>`.")
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret.strip()))).first()
    now = utcnow()
    if token is None:
        raise InvalidToken("This API token is not known to the registry.")
    if token.revoked_at is not None:
        raise InvalidToken("This API token has been revoked.")
    if _aware(token.expires_at) <= now:
        raise InvalidToken("This API token has expired.")
    token.last_used_at = now
    session.add(token)
    agency = session.get(Agency, token.agency_id)
    return TokenHolder(
        token.id or 0, token.agency_id, agency.acronym if agency else "?", token.name, tuple(token.scopes)
    )


def ensure_scope(holder: TokenHolder, scope: str) -> None:
    if scope not in holder.scopes:
        raise PermissionDenied(f"This API token lacks the scope {scope!r}.")


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
