"""Server-side web sessions: kept in the database (shared by every worker), id rotated at sign-in."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import anyio
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty, Message
from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from registry.accounts.models import WebSession
from registry.timeutil import utcnow
from registry.web import Database, database_unavailable_handler, unavailability

SESSION_COOKIE = "registry_session"
_NEW_ID = "registry_new_session_id"
RENEW_INTERVAL = dt.timedelta(minutes=5)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _unchanged(stored: dt.datetime | None, wanted: dt.datetime | None) -> bool:
    if stored is None or wanted is None:
        return stored is wanted
    return abs(wanted - _aware(stored)) < RENEW_INTERVAL


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
        with self.database.read() as session:
            row = session.get(WebSession, key)
            # Every answer stores its session again; unchanged, it is written at most once per
            # RENEW_INTERVAL, so reading a page takes no write lock.
            if row is not None and row.data == data and _unchanged(row.expires_at, expires_at):
                return
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
        # A read stays a read (the answer's _set renews the expiry), so signed-in pages keep working
        # on a database that cannot be written.
        with self.database.read() as session:
            row = session.get(WebSession, key)
            if row is None or (row.expires_at is not None and _aware(row.expires_at) <= utcnow()):
                return None  # an expired row is swept by the next write (_set)
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


class StoringSessionMiddleware(SessionMiddleware[RotatingSessionBackend]):
    """Stores the session as the answer starts; a store that cannot be written turns the answer into a 503.

    The session is written after the handler has answered, so its failure would reach the server as
    an error after the response started: a dropped connection instead of an answer.
    """

    def create_send_wrapper(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        send = super().create_send_wrapper(connection)
        replaced = False

        async def send_or_replace(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the handler's own body belongs to the answer that was replaced
            try:
                await send(message)
            except DBAPIError as error:
                if message["type"] != "http.response.start" or unavailability(error) is None:
                    raise
                replaced = True
                request: Request[Any, Any, Any] = Request(connection.scope, connection.receive, connection.send)
                answer = database_unavailable_handler(request, error)
                await answer.to_asgi_response(app=None, request=request)(
                    connection.scope, connection.receive, connection.send
                )

        return send_or_replace


class RegistrySessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend

    @property
    def middleware(self) -> DefineMiddleware:
        return DefineMiddleware(StoringSessionMiddleware, backend=self._backend_class(config=self))


async def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any], store: Store) -> None:
    """Forget the pre-sign-in session and give the browser a new id, against session fixation."""
    old = connection.cookies.get(SESSION_COOKIE)
    if old and old != "null":
        await store.delete(old)
    connection.scope.setdefault("state", {})[_NEW_ID] = secrets.token_hex(32)
