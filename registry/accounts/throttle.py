"""Sign-in throttling by client address and by account at that address, never an account lock.

A lock on the account alone lets anyone lock out its owner by failing a few times. Here recent
failures are counted for the client's address (against one machine trying many accounts) and for
the pair of account and address (against one machine guessing one password); the owner signing in
from elsewhere is not affected. The counts live in the database, so every web worker sees the same
ones and an operator can lift them; a per-process limiter (such as the `limits` package's memory
store, which has no SQL backend) would give N workers N times the allowance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func
from sqlmodel import Session, col, select

from registry.accounts.models import SignInFailure
from registry.timeutil import utcnow


@dataclass(frozen=True)
class ThrottleLimits:
    per_account: int = 5
    per_address: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)


def account_key(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode("utf-8")).hexdigest()


def _client(address: str) -> str:
    return (address or "unknown")[:64]


def _count(session: Session, since: dt.datetime, *conditions: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(SignInFailure).where(col(SignInFailure.failed_at) >= since, *conditions)
    return int(session.exec(query).one())  # type: ignore[call-overload]


def failures(session: Session, email: str, client: str, limits: ThrottleLimits) -> tuple[int, int]:
    """Recent failures (for this account from this address, from this address for any account)."""
    since = utcnow() - limits.window
    address = col(SignInFailure.client_address) == _client(client)
    pair = _count(session, since, address, col(SignInFailure.account_key) == account_key(email))
    return pair, _count(session, since, address)


def is_throttled(session: Session, email: str, client: str, limits: ThrottleLimits) -> bool:
    pair, by_address = failures(session, email, client, limits)
    return pair >= limits.per_account or by_address >= limits.per_address


def record_failure(session: Session, email: str, client: str, limits: ThrottleLimits) -> None:
    # Failures older than the window count for nothing: they are swept as new ones arrive.
    session.exec(delete(SignInFailure).where(col(SignInFailure.failed_at) < utcnow() - limits.window))  # type: ignore[call-overload]
    session.add(SignInFailure(account_key=account_key(email), client_address=_client(client)))
    session.flush()


def forget_failures(session: Session, email: str, client: str | None = None) -> int:
    """Clear an account's failures: from one address (a successful sign-in there) or from all (an operator)."""
    query = delete(SignInFailure).where(col(SignInFailure.account_key) == account_key(email))
    if client is not None:
        query = query.where(col(SignInFailure.client_address) == _client(client))
    return int(session.exec(query).rowcount)  # type: ignore[call-overload]


def recent_failures_by_account(session: Session, emails: list[str], limits: ThrottleLimits) -> dict[str, int]:
    """For the operators' accounts page: recent failures per account, from any address."""
    keys = {account_key(email): email for email in emails}
    rows = session.exec(
        select(SignInFailure.account_key, func.count())  # type: ignore[call-overload]
        .where(col(SignInFailure.account_key).in_(keys), col(SignInFailure.failed_at) >= utcnow() - limits.window)
        .group_by(SignInFailure.account_key)
    )
    return {keys[key]: int(count) for key, count in rows}
