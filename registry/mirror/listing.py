"""Reading a signed trust list as it arrives: one provider per line, hashed on the way, verified at the end.

The list (registry/trust/list_api.py) is a head line ending in `"providers":[`, then one entry per
line, then `]` and the signature member. Each line is hashed and decoded as it comes, so the mirror
holds one line at a time, never the list; nothing is kept unless finish() verifies the signature
over every byte read (the caller writes the entries in a transaction it commits only then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import msgspec

from registry.trust.publication import LIST_TYPE, SIGNATURE_MEMBER, SignatureInvalid, verify_token

# An entry is a provider with its identifiers and timeline: a few kilobytes. A "line" beyond this is no list.
MAX_LINE = 64 * 1024 * 1024
_HEAD_END = b'"providers":['
_TAIL_START = b"]" + SIGNATURE_MEMBER


class ListUnreadable(ValueError):
    """The bytes are not a trust list, or its signature does not verify; nothing read may be kept."""


class ListReader:
    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        # The unfinished line, in the pieces it came in: joined once, when its end arrives.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.head: dict[str, Any] | None = None
        self.entries = 0

    def feed(self, chunk: bytes) -> Iterator[dict[str, Any]]:
        """The entries completed by this chunk, in the order of the list."""
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            self._pending.append(chunk)
            self._pending_size += len(chunk)
            if self._pending_size > MAX_LINE:
                raise ListUnreadable(f"a line of the list is longer than {MAX_LINE} bytes")
            return
        data = b"".join([*self._pending, chunk[:cut]])
        self._pending, self._pending_size = [chunk[cut:]], len(chunk) - cut
        self._digest.update(data)
        for line in data.split(b"\n")[:-1]:
            if self.head is None:
                self.head = _head(line)
            elif line:
                yield _entry(line)
                self.entries += 1

    def finish(self, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The list's head and its signature's claims, once every byte read is verified; ListUnreadable if not."""
        tail = b"".join(self._pending)
        if self.head is None or not tail.startswith(_TAIL_START) or not tail.endswith(b'"}'):
            raise ListUnreadable("the list ends before its signature (cut short, or not a trust list)")
        self._digest.update(b"]")
        try:
            claims = verify_token(tail[len(_TAIL_START) : -2], jwks, LIST_TYPE, self._digest.digest())
        except SignatureInvalid as error:
            raise ListUnreadable(str(error)) from None
        if claims.get("position") != self.head.get("position"):
            raise ListUnreadable("the signature is for another feed position than the list names")
        return self.head, claims


def _head(line: bytes) -> dict[str, Any]:
    if not line.endswith(_HEAD_END):
        raise ListUnreadable("the list does not start with its head line (is the source a registry?)")
    try:
        head = msgspec.json.decode(line + b"]}")
    except msgspec.DecodeError as error:
        raise ListUnreadable(f"the list's head is not JSON: {error}") from None
    if not isinstance(head, dict) or head.get("type") != "trust-list":
        raise ListUnreadable("the list's head is not a trust list's")
    return head


def _entry(line: bytes) -> dict[str, Any]:
    try:
        entry = msgspec.json.decode(line[:-1] if line.endswith(b",") else line)
    except msgspec.DecodeError as error:
        raise ListUnreadable(f"an entry of the list is not JSON: {error}") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("provider_id"), int):
        raise ListUnreadable("an entry of the list names no provider")
    return entry
