"""Checks every request's input passes before a handler runs, whatever the route.

Ids in paths name rows, so one outside the id column's range names nothing: 404, before a database is asked.
Text with a NUL character cannot be stored in PostgreSQL (and means nothing in a name, an e-mail address
or an identifier), and a JSON body nested deeper than the decoder's recursion limit cannot be read.
Both are refused here with a 400 that names the field, instead of failing deep inside a handler.

A browser's form is the exception: its handler runs, so that the form is shown again with the message next
to the field, but with a database that refuses every write (refusing_writes): the handler's first write
raises the field errors, and the handler's own error path re-renders the form with them. Nothing is saved.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, SerializationException
from litestar.response import Template

from registry.errors import ValidationFailed
from registry.web import Database, problem, wants_html

NUL = "\x00"
# Ids are PostgreSQL INTEGER columns (SQLite's hold 64 bits): a larger one would fail to compare, not just miss.
MAX_ROW_ID = 2**31 - 1
NUL_MESSAGE = "contains a NUL character (U+0000), which no text field accepts"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# request.state key: the fields of a browser's form that hold a NUL, with their messages.
REFUSED_FIELDS = "refused_form_fields"


async def refuse_unreadable_input(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """None when the request may go on; otherwise the 400 answer."""
    scope = request.scope
    errors: dict[str, str] = {}
    # A NUL arrives percent-encoded (raw control bytes never pass the HTTP parser); most requests stop here.
    if b"%00" in scope["query_string"]:
        for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
            if NUL in key or NUL in value:
                errors[key.replace(NUL, "")] = NUL_MESSAGE
    for key, value in scope["path_params"].items():
        if isinstance(value, str) and NUL in value:
            errors[key] = NUL_MESSAGE
        elif isinstance(value, int) and not 1 <= value <= MAX_ROW_ID:
            raise NotFoundException(f"There is nothing with {key} {value}.")
    if scope["method"] in ("POST", "PUT", "PATCH"):
        content_type = request.content_type[0]
        if content_type in FORM_TYPES:
            form = await request.form()
            fields: dict[str, str] = {}
            for key, value in form.multi_items():
                if NUL in key or (not isinstance(value, UploadFile) and NUL in str(value)):
                    fields[key.replace(NUL, "")] = NUL_MESSAGE
            if fields and not errors and wants_html(request) and _takes_a_form(request):
                request.state[REFUSED_FIELDS] = fields
                return None
            errors.update(fields)
        elif content_type == "application/json" or content_type.endswith("+json"):
            try:
                document = await request.json()
            except RecursionError:
                return _refuse(request, "The JSON body is nested too deeply to read.", {"body": "nested too deeply"})
            except SerializationException:
                # Malformed JSON is the body parser's to report, with its own message.
                return None
            for where, text in _strings(document):
                if NUL in text:
                    errors[where] = NUL_MESSAGE
    if errors:
        named = ", ".join(sorted(errors))
        return _refuse(request, f"Text may not contain NUL characters; remove them from: {named}.", errors)
    return None


def _takes_a_form(request: Request[Any, Any, Any]) -> bool:
    """Whether the handler reads a web form (a `data` parameter of form fields), not a protocol's body."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    media_type = getattr(getattr(data, "kwarg_definition", None), "media_type", None)
    return media_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART)


class RefusingWrites(Database):
    """The database as a request whose form was refused sees it: readable, never writable."""

    def __init__(self, database: Database, errors: dict[str, str]) -> None:
        super().__init__(database.bind)
        self.errors = errors

    def write(self) -> NoReturn:
        raise ValidationFailed(dict(self.errors))


def refusing_writes(request: Request[Any, Any, Any], database: Database) -> Database:
    """The request's database: the app's own, or one that refuses writes when the request's form was refused."""
    refused = request.state.get(REFUSED_FIELDS)
    return RefusingWrites(database, refused) if refused else database


def _strings(document: Any) -> Iterator[tuple[str, str]]:
    """Every string in a decoded JSON document (keys included), with where it sits, e.g. queries[2].identifier."""
    # Iterative: the decoder already bounded the depth, but a recursive walk would add frames of its own.
    pending: list[tuple[str, Any]] = [("body", document)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield where, str(key)
                pending.append((f"{key}" if where == "body" else f"{where}.{key}", item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))


def _refuse(request: Request[Any, Any, Any], detail: str, errors: dict[str, str]) -> Response[Any]:
    if wants_html(request):
        messages = "; ".join(f"{field}: {message}" for field, message in errors.items())
        return Template("500.html", context={"detail": f"{detail} ({messages})", "status": 400}, status_code=400)
    return problem(request, 400, "Invalid input", detail, "invalid-input", errors)
