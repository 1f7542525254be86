"""Signed bodies of the trust list and the change feed, and their verification.

A body is one JSON object whose last member is "signature": a compact JWS (ES256, the verdict
keys) whose claims hold the SHA-256 of every byte before `,"signature":"`. The server hashes while
it streams, so a list of any length is signed without being held in memory, and a verifier checks
the exact bytes it received:

    signed, token = body.rsplit(b',"signature":"', 1)   # token ends with '"}'
    verify token against /.well-known/jwks.json; claims["sha256"] == base64url(sha256(signed))
    the document is json(signed + b"}")
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import msgspec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from registry.trust.verdict import POLICY, Policy

SIGNATURE_MEMBER = b',"signature":"'
LIST_TYPE = "trust-list+jwt"
CHANGES_TYPE = "trust-changes+jwt"


class SignatureInvalid(ValueError):
    """A body whose signature is missing, made with an unknown key, or not over these bytes."""


def policy_document(policy: Policy) -> dict[str, Any]:
    return {
        "name": POLICY,
        "require_eqar_registered": policy.require_eqar_registered,
        "require_internal_qa_years": policy.require_internal_qa_years,
    }


def policy_from(document: dict[str, Any]) -> Policy:
    if document.get("name") != POLICY:
        raise SignatureInvalid(f"unknown policy {document.get('name')!r}; this verifier evaluates {POLICY}")
    return Policy(bool(document["require_eqar_registered"]), document["require_internal_qa_years"])


class SignedBody:
    """Hashes a body's bytes as they go out, then closes it with the signature member."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.size = 0

    def add(self, chunk: bytes) -> bytes:
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def close(self, sign: Callable[[dict[str, Any]], str], claims: dict[str, Any]) -> bytes:
        token = sign({**claims, "sha256": _b64(self._digest.digest())})
        return SIGNATURE_MEMBER + token.encode("ascii") + b'"}'


def sign_whole(body_without_signature: bytes, sign: Callable[[dict[str, Any]], str], claims: dict[str, Any]) -> bytes:
    """A small body signed at once: body_without_signature is the object without its closing brace."""
    signed = SignedBody()
    signed.add(body_without_signature)
    return body_without_signature + signed.close(sign, claims)


def verify(body: bytes, jwks: dict[str, Any], typ: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document and the signature's claims of a signed body; SignatureInvalid when it does not verify."""
    head, separator, tail = body.rpartition(SIGNATURE_MEMBER)
    if not separator or not tail.endswith(b'"}'):
        raise SignatureInvalid("the body carries no signature member at its end")
    claims = verify_token(tail[:-2], jwks, typ, hashlib.sha256(head).digest())
    try:
        document = msgspec.json.decode(head + b"}")
    except msgspec.DecodeError:
        raise SignatureInvalid("the signed bytes are not a JSON object") from None
    if not isinstance(document, dict):
        raise SignatureInvalid("the signed bytes are not a JSON object")
    return document, claims


def verify_token(token: bytes, jwks: dict[str, Any], typ: str, digest: bytes) -> dict[str, Any]:
    """The claims of a body's signature token, checked against the keys, its type and the body's SHA-256."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        verified = jws.deserialize_compact(token.decode("ascii", errors="replace"), keys, algorithms=["ES256"])
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise SignatureInvalid(f"the signature does not verify with the published keys: {error}") from None
    if verified.protected.get("typ") != typ:
        raise SignatureInvalid(f"the signature is of type {verified.protected.get('typ')!r}, not {typ!r}")
    try:
        claims = msgspec.json.decode(verified.payload)
    except msgspec.DecodeError:
        raise SignatureInvalid("the signature's claims are not JSON") from None
    if not isinstance(claims, dict) or claims.get("sha256") != _b64(digest):
        raise SignatureInvalid("the signature is not over these bytes (SHA-256 differs)")
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
