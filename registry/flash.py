"""One-time confirmations after a write: kept in the session, shown (and forgotten) on the next page."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect

from registry.forms import see_other

FLASH_KEY = "flash"


def flash(request: Request[Any, Any, Any], message: str) -> None:
    """Remember a confirmation for the next page this browser shows."""
    request.session[FLASH_KEY] = message


def done(request: Request[Any, Any, Any], path: str, message: str) -> Redirect:
    """After a successful write: the confirmation, then the page to show it on."""
    flash(request, message)
    return see_other(path)
