"""The signed trust list and the change feed, for verifiers that keep a mirror.

GET /api/v1/trust-list streams every listed provider from one database snapshot, and names the
feed position that snapshot reflects; GET /api/v1/changes?after=<position> continues from there.
Both bodies are signed (registry/trust/publication.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy import Connection, Engine

from registry.api_docs import problem_responses
from registry.errors import FieldErrors
from registry.settings import Settings
from registry.timeutil import utcnow
from registry.trust import feed, publication
from registry.trust.verdict import Policy
from registry.web import Database

MAX_LIMIT = 1000
MAX_WAIT = 30
MAX_AFTER = 2**62
# A long poll learns of a commit by reading the counter row this often (any worker's commit).
POLL_SECONDS = 0.1
_CHUNK = 64 * 1024


def _whole(low: int, high: int) -> dict[str, Any]:
    """How the document describes a whole-number query parameter (_integer checks it, with a per-field message)."""
    return {"one_of": None, "type": "integer", "minimum": low, "maximum": high}


def _policy(settings: Settings) -> Policy:
    return Policy(settings.require_eqar_registered, settings.require_internal_qa_years)


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


class FeedWatcher:
    """One poller per worker for all long-polling requests: it reads the feed position while someone waits."""

    def __init__(self, read_position: Callable[[], int]) -> None:
        self._read_position = read_position
        self._waiters = 0
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def wait_beyond(self, position: int, timeout: float) -> None:
        """Return once the feed has moved past position, or when timeout seconds have passed."""
        if self._changed is None or self._task is None or self._task.done():
            self._changed = asyncio.Event()
        self._waiters += 1
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._poll())
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                changed = self._changed
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    return
                if self._latest > position:
                    return
        finally:
            self._waiters -= 1

    _latest = -1

    async def _poll(self) -> None:
        while self._waiters > 0:
            try:
                latest = await anyio.to_thread.run_sync(self._read_position)
            except Exception:  # noqa: BLE001 - a failing database is answered by the request's own read
                latest = self._latest
            if latest != self._latest:
                self._latest = latest
                assert self._changed is not None
                self._changed.set()
                self._changed = asyncio.Event()
            await asyncio.sleep(POLL_SECONDS)


def _snapshot(db: Database) -> tuple[ExitStack, Connection]:
    """A read transaction whose every statement sees the same snapshot."""
    stack = ExitStack()
    bind = db.bind
    if isinstance(bind, Engine):
        connection = stack.enter_context(bind.connect())
        if bind.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        stack.enter_context(connection.begin())
        return stack, connection
    return stack, bind


def _gzip_wanted(request: Request[Any, Any, Any]) -> bool:
    accepted = ",".join(v.decode("latin-1") for k, v in request.scope["headers"] if k == b"accept-encoding")
    return any(
        part.split(";")[0].strip() == "gzip" and "q=0" not in part.replace(" ", "") for part in accepted.split(",")
    )


def _chunked(parts: Iterator[bytes], gzip: bool) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
    buffer: list[bytes] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= _CHUNK:
            data = b"".join(buffer)
            buffer, size = [], 0
            yield compressor.compress(data) if compressor else data
    data = b"".join(buffer)
    if compressor:
        yield compressor.compress(data) + compressor.flush()
    elif data:
        yield data


class TrustListController(Controller):
    path = "/api/v1"
    tags = ["Trust list and change feed"]

    @get(
        "/trust-list",
        sync_to_thread=True,
        summary="Every listed provider with its identifiers and whole trust timeline, signed",
        description=(
            "Streams one JSON object: issuer, policy, the feed `position` it reflects, `providers` (each with "
            "identifiers and the timeline a verifier evaluates locally, one provider per line) and last "
            '`signature`, a compact JWS whose `sha256` claim covers every byte before `,"signature":"`. Follow '
            "/api/v1/changes from `position`."
        ),
        responses={
            **problem_responses(),
            304: ResponseSpec(None, description="Not modified: the list still has the `If-None-Match` validator"),
        },
    )
    def trust_list(self, request: Request[Any, Any, Any]) -> Response[Any]:
        lookup = request.app.state.trust_lookup
        db: Database = lookup.db
        settings: Settings = lookup.settings
        stack, connection = _snapshot(db)
        try:
            position = feed.current_position(connection)
            changed_at = feed.changed_at(connection, position)
        except BaseException:
            stack.close()
            raise
        tag = f'W/"trust-list-{position}"'
        headers = {"ETag": tag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if changed_at is not None:
            headers["Last-Modified"] = format_datetime(changed_at.astimezone(dt.UTC), usegmt=True)
        if _not_modified(request, tag, changed_at):
            stack.close()
            return Response(b"", status_code=304, headers=headers)
        gzip = _gzip_wanted(request)
        if gzip:
            headers["Content-Encoding"] = "gzip"

        def body() -> Iterator[bytes]:
            with stack:
                signed = publication.SignedBody()
                head = {
                    "type": "trust-list",
                    "issuer": settings.base_url,
                    "policy": publication.policy_document(_policy(settings)),
                    "position": position,
                    "generated_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                # One line per provider (entries hold no raw newline): a mirror parses the list as it arrives.
                yield signed.add(_encode(head)[:-1] + b',"providers":[\n')
                first = True
                for entry in feed.listed_entries(connection):
                    yield signed.add((b"" if first else b",\n") + entry.encode())
                    first = False
                yield signed.add(b"\n]")
                claims = {"iss": settings.base_url, "iat": int(time.time()), "position": position}
                yield signed.close(lambda c: lookup.signer.sign_claims(db.read, c, publication.LIST_TYPE), claims)

        return Stream(_chunked(body(), gzip), media_type="application/json", headers=headers)

    @get(
        "/changes",
        summary="Providers whose timeline or identifiers changed after a feed position, in commit order",
        description=(
            "Each change carries the provider's new trust list entry, or `removed: true`. `next` is the cursor to "
            "ask with next time. With `wait` (seconds, at most 30) an empty answer is held until a change commits."
        ),
        responses=problem_responses(400),
    )
    async def changes(
        self,
        request: Request[Any, Any, Any],
        after: Annotated[
            str | None,
            Parameter(description="Feed position (cursor) already applied", schema_extra=_whole(0, MAX_AFTER)),
        ] = None,
        limit: Annotated[
            str | None,
            Parameter(description=f"At most this many changes (1 to {MAX_LIMIT})", schema_extra=_whole(1, MAX_LIMIT)),
        ] = None,
        wait: Annotated[
            str | None,
            Parameter(
                description=f"Hold an empty answer this many seconds (0 to {MAX_WAIT})",
                schema_extra=_whole(0, MAX_WAIT),
            ),
        ] = None,
    ) -> Response[Any]:
        errors = FieldErrors()
        start = _integer(errors, "after", after, 0, MAX_AFTER, 0)
        count = _integer(errors, "limit", limit, 1, MAX_LIMIT, 100)
        hold = _integer(errors, "wait", wait, 0, MAX_WAIT, 0)
        errors.raise_if_any()
        lookup = request.app.state.trust_lookup
        db: Database = lookup.db
        settings: Settings = lookup.settings
        watcher: FeedWatcher = request.app.state.feed_watcher
        deadline = time.monotonic() + min(hold, settings.feed_max_wait)
        while True:
            position, rows = await anyio.to_thread.run_sync(lambda: _read_changes(db, start, count))
            remaining = deadline - time.monotonic()
            if rows or remaining <= 0:
                break
            await watcher.wait_beyond(max(position, start), remaining)
        body = (
            _encode(
                {
                    "type": "trust-changes",
                    "issuer": settings.base_url,
                    "policy": publication.policy_document(_policy(settings)),
                    "after": start,
                    "position": position,
                    "next": str(rows[-1][0] if rows else max(start, 0)),
                }
            )[:-1]
            + b',"changes":['
            + b",".join(_change(row) for row in rows)
            + b"]"
        )
        claims = {"iss": settings.base_url, "iat": int(time.time()), "after": start}
        signed = await anyio.to_thread.run_sync(
            lambda: publication.sign_whole(
                body, lambda c: lookup.signer.sign_claims(db.read, c, publication.CHANGES_TYPE), claims
            )
        )
        return Response(signed, media_type="application/json", headers={"Cache-Control": "no-store"})


def _read_changes(db: Database, after: int, limit: int) -> tuple[int, list[Any]]:
    with db.connect() as connection:
        return feed.current_position(connection), feed.changes_after(connection, after, limit)


def _change(row: Any) -> bytes:
    position, provider_id, entry, changed_at = row
    head = _encode(
        {
            "position": position,
            "provider_id": provider_id,
            "changed_at": changed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "removed": entry is None,
        }
    )
    return head[:-1] + b',"entry":' + (entry.encode() if entry is not None else b"null") + b"}"


def _integer(errors: FieldErrors, name: str, value: str | None, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    text = str(value).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors.add(name, f"give a whole number from {low} to {high}")
        return default
    return int(text)


def _not_modified(request: Request[Any, Any, Any], tag: str, changed_at: dt.datetime | None) -> bool:
    header = ",".join(v.decode("latin-1") for k, v in request.scope["headers"] if k == b"if-none-match")
    if header:
        return tag.removeprefix("W/") in {part.strip().removeprefix("W/") for part in header.split(",")}
    since = ",".join(v.decode("latin-1") for k, v in request.scope["headers"] if k == b"if-modified-since")
    if since and changed_at is not None:
        try:
            return changed_at.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False
