"""CSRF tokens bound to the signed-in session.

Litestar's middleware checks that the form's token and the cookie's token are the same signed
value (double submit). That alone accepts any valid pair, including one obtained in another
browser's session and planted as a cookie. Here a signed-in session also records the token issued
with it, and a write is accepted only with that token; each new session id gets a new token.
"""

from __future__ import annotations

from secrets import compare_digest
from typing import Any

from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from registry.sessions import session_was_rotated

SESSION_KEY = "csrf"


def _session(scope: Scope) -> dict[str, Any] | None:
    session = scope.get("session")
    return session if isinstance(session, dict) else None


class SessionBoundCSRFMiddleware(CSRFMiddleware):
    """Double-submit CSRF check, plus: a signed-in session only accepts the token issued with it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or should_bypass_middleware(
            scope=scope,
            scopes=self.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.exclude,
        ):
            await self.app(scope, receive, send)
            return
        request = scope["litestar_app"].request_class(scope=scope, receive=receive)
        cookie = request.cookies.get(self.config.cookie_name)
        bound = (_session(scope) or {}).get(SESSION_KEY)
        state = ScopeState.from_scope(scope)
        if request.method in self.config.safe_methods:
            token = bound or cookie or generate_csrf_token(secret=self.config.secret)
        else:
            submitted = request.headers.get(self.config.header_name)
            if not submitted and request.content_type[0] in {
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            }:
                submitted = (await request.form()).get("_csrf_token")
            if not (
                submitted
                and cookie
                and self._csrf_tokens_match(submitted, cookie)
                and (bound is None or compare_digest(str(bound), cookie))
            ):
                raise PermissionDeniedException("CSRF token verification failed")
            token = submitted
        state.csrf_token = token
        await self.app(scope, receive, self._send_binding(scope, send, cookie, token))

    def _send_binding(self, scope: Scope, send: Send, cookie: str | None, token: str) -> Send:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                issued = token
                session = _session(scope)
                # A session that has just been signed in to (a new id) gets a token of its own,
                # written into the session before the session middleware stores it.
                if session and session.get("user_id") is not None:
                    if session_was_rotated(scope) or not session.get(SESSION_KEY):
                        session[SESSION_KEY] = generate_csrf_token(secret=self.config.secret)
                    issued = str(session[SESSION_KEY])
                if issued != cookie:
                    self._set_cookie(message, issued)
            await send(message)

        return send_wrapper

    def _set_cookie(self, message: Message, token: str) -> None:
        headers = MutableScopeHeaders.from_message(message)  # type: ignore[arg-type]
        cookie = Cookie(
            key=self.config.cookie_name,
            value=token,
            path=self.config.cookie_path,
            secure=self.config.cookie_secure,
            httponly=self.config.cookie_httponly,
            samesite=self.config.cookie_samesite,
            domain=self.config.cookie_domain,
        )
        headers.add("set-cookie", cookie.to_header(header=""))
