"""Server-side web sessions: kept in the database (shared by every worker), id rotated at sign-in."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty
from sqlalchemy import delete
from sqlmodel import select

from registry.accounts.models import WebSession
from registry.timeutil import utcnow
from registry.web import Database

SESSION_COOKIE = "registry_session"
_NEW_ID = "registry_new_session_id"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _expiry(expires_in: int | dt.timedelta | None) -> dt.datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, dt.timedelta) else expires_in
    return utcnow() + dt.timedelta(seconds=seconds)


class DatabaseSessionStore(Store):
    """A Litestar store on the web_session table; the built-in stores live in one process only."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await anyio.to_thread.run_sync(self._set, key, data, _expiry(expires_in))

    def _set(self, key: str, data: bytes, expires_at: dt.datetime | None) -> None:
        with self.database.write() as session:
            # Expired sessions are swept as new ones are written, so the table never grows unbounded.
            session.exec(delete(WebSession).where(WebSession.expires_at < utcnow()))  # type: ignore[call-overload,arg-type,operator]
            row = session.get(WebSession, key) or WebSession(id=key, data=data)
            row.data = data
            row.expires_at = expires_at
            row.user_id = _user_of(data)
            session.add(row)

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        return await anyio.to_thread.run_sync(self._get, key, renew_for)

    def _get(self, key: str, renew_for: int | dt.timedelta | None) -> bytes | None:
        with self.database.write() as session:
            row = session.get(WebSession, key)
            if row is None:
                return None
            if row.expires_at is not None and _aware(row.expires_at) <= utcnow():
                session.delete(row)
                return None
            if renew_for is not None and row.expires_at is not None:
                row.expires_at = _expiry(renew_for)
                session.add(row)
            return bytes(row.data)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete, key)

    def _delete(self, key: str) -> None:
        with self.database.write() as session:
            session.exec(delete(WebSession).where(WebSession.id == key))  # type: ignore[call-overload,arg-type]

    async def delete_all(self) -> None:
        await anyio.to_thread.run_sync(self._delete_all)

    def _delete_all(self) -> None:
        with self.database.write() as session:
            session.exec(delete(WebSession))  # type: ignore[call-overload]

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        def _read() -> dt.datetime | None:
            with self.database.read() as session:
                return session.exec(select(WebSession.expires_at).where(WebSession.id == key)).first()

        expires_at = await anyio.to_thread.run_sync(_read)
        if expires_at is None:
            return None
        return int((_aware(expires_at) - utcnow()).total_seconds())


def _user_of(data: bytes) -> int | None:
    try:
        user_id = json.loads(data).get("user_id")
    except (ValueError, AttributeError):
        return None
    return user_id if isinstance(user_id, int) else None


def end_user_sessions(database: Database, user_id: int) -> None:
    """Sign a user out everywhere, e.g. after a password change (the current browser gets a new session)."""
    with database.write() as session:
        session.exec(delete(WebSession).where(WebSession.user_id == user_id))  # type: ignore[call-overload,arg-type]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar keeps a session's id for its whole life; after rotate_session_id() a new one is issued."""

    async def store_in_message(
        self, scope_session: Any, message: Any, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        # Litestar would store an empty session for every anonymous visitor: a row and a cookie per
        # request to the public pages. An empty session is stored nowhere; an emptied one is deleted.
        if scope_session is not Empty and not scope_session:
            if not connection.cookies.get(self.config.key) or connection.cookies.get(self.config.key) == "null":
                return
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        fresh = connection.scope.get("state", {}).get(_NEW_ID)
        return str(fresh) if fresh else super().get_session_id(connection)


class RegistrySessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any], store: Store) -> None:
    """Forget the pre-sign-in session and give the browser a new id, against session fixation."""
    old = connection.cookies.get(SESSION_COOKIE)
    if old and old != "null":
        await store.delete(old)
    connection.scope.setdefault("state", {})[_NEW_ID] = secrets.token_hex(32)
