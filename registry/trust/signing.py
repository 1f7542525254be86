"""ES256 signing keys and signed statements: verdicts (typ "trust-verdict+jwt") and, with keys of their own,
OpenID Federation statements.

Each purpose has its own keys, rotated on their own, so a verifier trusting one set never trusts the other.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey
from sqlalchemy import or_
from sqlmodel import Session, col, select

from registry.timeutil import utcnow
from registry.trust.models import SigningKey

JWT_TYPE = "trust-verdict+jwt"
VERDICT = "verdict"
FEDERATION = "federation"
PURPOSES = (VERDICT, FEDERATION)
# Workers re-read the active key this often, so a rotation reaches every process quickly.
_KEY_CACHE_SECONDS = 30.0


def create_key(session: Session, purpose: str = VERDICT) -> SigningKey:
    private = ECKey.generate_key("P-256")
    pem = private.as_pem(private=True).decode()
    kid = uuid.uuid4().hex[:16]
    public: dict[str, Any] = dict(private.as_dict(private=False))
    public.update(kid=kid, use="sig", alg="ES256")
    key = SigningKey(kid=kid, purpose=purpose, private_pem=pem, public_jwk=public)
    session.add(key)
    session.flush()
    return key


def active_key(session: Session, purpose: str = VERDICT) -> SigningKey | None:
    return session.exec(
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None), SigningKey.purpose == purpose)
        .order_by(col(SigningKey.created_at).desc())
    ).first()


def ensure_key(session: Session, purpose: str = VERDICT) -> SigningKey:
    return active_key(session, purpose) or create_key(session, purpose)


def rotate(session: Session, verdict_lifetime: int, purpose: str = VERDICT) -> SigningKey:
    """Retire the active key (still published until the last statement it signed expires) and add a new one.

    Nothing either kind of key signs outlives verdict_lifetime, federation entity configurations included.
    """
    now = utcnow()
    active = select(SigningKey).where(col(SigningKey.retired_at).is_(None), SigningKey.purpose == purpose)
    for key in session.exec(active):
        key.retired_at = now
        key.publish_until = now + dt.timedelta(seconds=verdict_lifetime)
        session.add(key)
    session.flush()
    return create_key(session, purpose)


def published_keys(session: Session, purpose: str = VERDICT) -> dict[str, Any]:
    now = utcnow()
    keys = session.exec(
        select(SigningKey)
        .where(
            SigningKey.purpose == purpose,
            or_(col(SigningKey.retired_at).is_(None), col(SigningKey.publish_until) > now),
        )
        .order_by(col(SigningKey.created_at))
    )
    return {"keys": [key.public_jwk for key in keys]}


class VerdictSigner:
    """Signs with the active key of one purpose, keeping the parsed key between requests.

    create_missing_key is called when no key exists yet, so the embedded default needs no set-up.
    """

    def __init__(self, create_missing_key: Callable[[], SigningKey], purpose: str = VERDICT) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[str, ec.EllipticCurvePrivateKey, float] | None = None
        self._create_missing_key = create_missing_key
        self.purpose = purpose

    def _key(self, read: Callable[[], AbstractContextManager[Session]]) -> tuple[str, ec.EllipticCurvePrivateKey]:
        loaded = self._loaded
        if loaded is not None and time.monotonic() - loaded[2] < _KEY_CACHE_SECONDS:
            return loaded[0], loaded[1]
        with self._lock, read() as session:
            record = active_key(session, self.purpose) or self._create_missing_key()
            key = ECKey.import_key(record.private_pem).private_key
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"signing key {record.kid} holds no EC private key")
            self._loaded = (record.kid, key, time.monotonic())
            return record.kid, key

    def sign(
        self, read: Callable[[], AbstractContextManager[Session]], payload: dict[str, Any], issuer: str, lifetime: int
    ) -> str:
        """A compact JWS (RFC 7515) over the verdict; read opens a session when the key must be (re)loaded."""
        return self.sign_claims(read, verdict_claims(payload, issuer, lifetime), JWT_TYPE)

    def sign_claims(self, read: Callable[[], AbstractContextManager[Session]], claims: dict[str, Any], typ: str) -> str:
        """A compact ES256 JWS over these claims, with typ and the key's kid in the header."""
        kid, key = self._key(read)
        return sign_with(kid, key, claims, typ)

    def forget(self) -> None:
        self._loaded = None


def verdict_claims(payload: dict[str, Any], issuer: str, lifetime: int) -> dict[str, Any]:
    """A signed verdict's claims: the verdict itself, with who says it and for how long."""
    issued = int(time.time())
    return {"iss": issuer, "sub": payload["identifier"], "iat": issued, "exp": issued + lifetime, **payload}


def sign_with(kid: str, key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], typ: str) -> str:
    """A compact ES256 JWS over claims, with typ and kid in the header."""
    header = {"alg": "ES256", "typ": typ, "kid": kid}
    # Signed with cryptography directly: joserfc's generic path costs twice the signature itself.
    signing_input = _b64(msgspec.json.encode(header)) + b"." + _b64(msgspec.json.encode(claims))
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    # JWS ES256 wants the raw 64-byte r || s, not DER (RFC 7518 section 3.4).
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return (signing_input + b"." + _b64(signature)).decode("ascii")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")
