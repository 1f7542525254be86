"""The two DID methods a provider can prove: did:key (resolved offline) and did:web (fetched over HTTPS)."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any
from urllib.parse import unquote

import base58
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from registry.providers.fetch import fetch
from registry.providers.identifiers import InvalidIdentifier, normalise
from registry.settings import Settings

# Multicodec prefixes (unsigned varints) of the public keys did:key may hold.
ED25519_PUB = b"\xed\x01"
P256_PUB = b"\x80\x24"  # 0x1200
# Ed25519 signs as "EdDSA" in most wallets today, "Ed25519" after RFC 9864; P-256 as ES256.
ALGORITHMS_BY_KEY_TYPE = {"OKP": ["EdDSA", "Ed25519"], "EC": ["ES256"]}
_REGISTRY = jws.JWSRegistry(algorithms=["EdDSA", "Ed25519", "ES256"])


class InvalidDid(Exception):
    pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def multibase_key_to_jwk(value: str) -> dict[str, str]:
    """A public key in multibase base58btc ('z...') with its multicodec prefix, as a JWK."""
    if not value.startswith("z"):
        raise InvalidDid("only base58btc multibase keys (starting with 'z') are understood")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError:
        raise InvalidDid("the key is not valid base58") from None
    if raw.startswith(ED25519_PUB) and len(raw) == 34:
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw[2:])}
    if raw.startswith(P256_PUB) and len(raw) == 35:
        try:
            numbers = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:]).public_numbers()
        except ValueError:
            raise InvalidDid("the P-256 key is not a point on the curve") from None
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }
    raise InvalidDid("only Ed25519 and P-256 keys are understood")


def did_key_jwk(did: str) -> dict[str, str]:
    if not did.startswith("did:key:"):
        raise InvalidDid("not a did:key")
    return multibase_key_to_jwk(did.removeprefix("did:key:").split("#", 1)[0])


def did_web_url(did: str) -> str:
    """did:web:host%3Aport:path:to -> https://host:port/path/to/did.json; no path -> /.well-known/did.json."""
    if not did.startswith("did:web:"):
        raise InvalidDid("not a did:web")
    host, *path = did.removeprefix("did:web:").split(":")
    host = unquote(host)
    if not host or "/" in host or "@" in host:
        raise InvalidDid("a did:web names a host")
    if path:
        return f"https://{host}/" + "/".join(unquote(segment) for segment in path) + "/did.json"
    return f"https://{host}/.well-known/did.json"


def did_web_keys(did: str, settings: Settings) -> list[dict[str, Any]]:
    """The public keys of a did:web document's verification methods, as JWKs."""
    body = fetch(did_web_url(did), settings)
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidDid("the DID document is not JSON") from None
    except RecursionError:
        raise InvalidDid("the DID document is nested too deeply to be a DID document") from None
    if not isinstance(document, dict) or not _same_did(document.get("id"), did):
        raise InvalidDid(f"the DID document's id is not {did}")
    keys = []
    for method in document.get("verificationMethod") or []:
        if not isinstance(method, dict):
            continue
        if isinstance(method.get("publicKeyJwk"), dict):
            jwk = dict(method["publicKeyJwk"])
            if "d" in jwk:
                raise InvalidDid("the DID document publishes a private key; remove it and rotate that key")
            keys.append(jwk)
        elif isinstance(method.get("publicKeyMultibase"), str):
            keys.append(multibase_key_to_jwk(method["publicKeyMultibase"]))
    if not keys:
        raise InvalidDid("the DID document has no verification method with a key")
    return keys


def _same_did(value: object, did: str) -> bool:
    # The host part of did:web is compared case-insensitively, as the identifier is stored.
    try:
        return isinstance(value, str) and normalise("did", value) == normalise("did", did)
    except InvalidIdentifier:
        return False


def verify_compact_jws(token: str, jwk: dict[str, Any], payload: str) -> bool:
    """Whether the compact JWS is signed by this key with an algorithm fit for it, over exactly this payload."""
    allowed = ALGORITHMS_BY_KEY_TYPE.get(str(jwk.get("kty")))
    if not allowed:
        return False
    try:
        key = JWKRegistry.import_key(jwk)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc warns that "EdDSA" is deprecated; wallets still use it
            signed = jws.deserialize_compact(token.strip(), key, algorithms=allowed, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError):
        return False
    return signed.payload == payload.encode("utf-8")
