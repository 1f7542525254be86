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
_LOADED = "registry_loaded_session"
# A signed-in request only reads its session; the expiry moves forward at most this often, so
# browsing is not a database write per page (the session still ends max_age after the last renewal).
RENEW_INTERVAL = dt.timedelta(minutes=5)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _due_for_renewal(expires_at: dt.datetime, lifetime: int | dt.timedelta) -> bool:
    """True once the last renewal (expiry minus lifetime) lies RENEW_INTERVAL or more in the past."""
    seconds = lifetime.total_seconds() if isinstance(lifetime, dt.timedelta) else lifetime
    renewed_at = _aware(expires_at) - dt.timedelta(seconds=seconds)
    return utcnow() - renewed_at >= RENEW_INTERVAL


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
        found = await anyio.to_thread.run_sync(self.read, key)
        if found is None:
            return None
        data, expires_at = found
        if renew_for is not None and expires_at is not None and _due_for_renewal(expires_at, renew_for):
            await self.set(key, data, renew_for)
        return data

    def read(self, key: str) -> tuple[bytes, dt.datetime | None] | None:
        """The session's data and expiry, in a read-only transaction; an expired session reads as none."""
        with self.database.read() as session:
            row = session.exec(select(WebSession.data, WebSession.expires_at).where(WebSession.id == key)).first()
        if row is None:
            return None
        data, expires_at = row
        if expires_at is not None and _aware(expires_at) <= utcnow():
            return None  # deleted by the next sweep in _set
        return bytes(data), expires_at

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
        elif scope_session is not Empty and self._unchanged_and_fresh(scope_session, connection):
            return  # the browser's cookie and the stored row both stay as they are
        await super().store_in_message(scope_session, message, connection)

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if not session_id or session_id == "null":
            return {}
        store = self.config.get_store_from_app(connection.scope["app"])
        if not isinstance(store, DatabaseSessionStore):
            return await super().load_from_connection(connection)
        found = await anyio.to_thread.run_sync(store.read, session_id)
        if found is None:
            return {}
        # Kept for store_in_message: an unchanged session that was renewed lately is not written again.
        connection.scope.setdefault("state", {})[_LOADED] = found
        return self.deserialize_data(found[0])

    def _unchanged_and_fresh(self, scope_session: Any, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        state = connection.scope.get("state", {})
        loaded = state.get(_LOADED)
        if loaded is None or state.get(_NEW_ID) or self.config.max_age is None:
            return False
        data, expires_at = loaded
        if expires_at is None or self.serialize_data(scope_session, connection.scope) != data:
            return False
        return not _due_for_renewal(expires_at, int(self.config.max_age))

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


def session_was_rotated(scope: Any) -> bool:
    """True while answering the request that gave the browser a new session id (a sign-in)."""
    return bool(scope.get("state", {}).get(_NEW_ID))
