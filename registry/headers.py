"""Security headers on every answer: what a browser may load, frame, sniff and remember."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# Every page loads its scripts, styles and images from this site only (the OpenAPI UI included:
# its bundle is served from an installed package); none may be framed by another site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Pages that show one person's work, or carry a credential in their address, are never kept by a cache.
PRIVATE_PREFIXES = ("/staff", "/account", "/invitations", "/signin")
HSTS_MAX_AGE = 365 * 24 * 3600


def security_headers(https: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook: unlike middleware, it also sees the answers for paths no route matches."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)  # type: ignore[arg-type]
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        if https:
            headers["Strict-Transport-Security"] = f"max-age={HSTS_MAX_AGE}; includeSubDomains"
        # A handler's own policy (e.g. a sandbox for an uploaded file) is stricter; it stays.
        if "text/html" in (headers.get("content-type") or "") and "content-security-policy" not in headers:
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if scope["path"].startswith(PRIVATE_PREFIXES):
            headers["Cache-Control"] = "no-store"

    return add_headers
