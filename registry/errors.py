"""Domain errors that services raise and controllers turn into answers."""

from __future__ import annotations

import datetime as dt
from typing import Any


class RegistryError(Exception):
    status_code = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class ValidationFailed(RegistryError):
    title = "Invalid input"
    type_slug = "invalid-input"

    def __init__(self, errors: dict[str, str], detail: str | None = None) -> None:
        if detail is None:
            parts = [f"{field}: {message}" for field, message in errors.items()]
            detail = "The input has problems. " + "; ".join(parts) if parts else "The input is invalid."
        super().__init__(detail, errors)


class NotFound(RegistryError):
    status_code = 404
    title = "Not found"
    type_slug = "not-found"


class PermissionDenied(RegistryError):
    status_code = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Conflict(RegistryError):
    status_code = 409
    title = "Conflict"
    type_slug = "conflict"


class FieldErrors:
    """Collects every problem of one input before failing, so a form shows them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def date(self, field: str, value: Any, required: bool = False) -> dt.date | None:
        if value is None or value == "":
            if required:
                self.add(field, "a date is required (YYYY-MM-DD)")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.add(field, f"{value!r} is not a date; write it as YYYY-MM-DD")
            return None

    def choice(self, field: str, value: Any, choices: tuple[str, ...], required: bool = True) -> str | None:
        if value is None or value == "":
            if required:
                self.add(field, f"choose one of: {', '.join(choices)}")
            return None
        if value not in choices:
            self.add(field, f"{value!r} is not one of: {', '.join(choices)}")
            return None
        return str(value)

    def text(self, field: str, value: Any, required: bool = True, max_length: int = 500) -> str | None:
        text = (str(value) if value is not None else "").strip()
        if not text:
            if required:
                self.add(field, "this field is required")
            return None
        if len(text) > max_length:
            self.add(field, f"at most {max_length} characters")
            return None
        return text

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
