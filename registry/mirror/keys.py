"""The mirror's own signing key: a private JWK in a file, made by `registry mirror keys`.

With it, `registry mirror serve` signs verdicts itself (Accept: application/jwt) and publishes the
public half at its /.well-known/jwks.json; a verifier that trusts the mirror checks the mirror's
signature, not the source registry's (the mirror cannot sign with the registry's key, nor should it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.errors import JoseError
from joserfc.jwk import ECKey


class KeyFileError(ValueError):
    """A key file that is missing, unreadable or holds no EC P-256 private key."""


@dataclass(frozen=True)
class MirrorKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, Any]


def generate(path: str | Path, *, overwrite: bool = False) -> MirrorKey:
    """Write a new P-256 private JWK to path, readable by its owner only."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise KeyFileError(f"{target} exists; a new key would orphan every verdict signed with it (use --force)")
    key = ECKey.generate_key("P-256")
    kid = key.thumbprint()
    private = {**key.as_dict(private=True), "kid": kid, "use": "sig", "alg": "ES256"}
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(private, file)
    return load(target)


def load(path: str | Path) -> MirrorKey:
    try:
        document = json.loads(Path(path).read_text())
        key = ECKey.import_key(document)
    except (OSError, ValueError, JoseError, TypeError) as error:
        raise KeyFileError(f"{path} is not a mirror key file (make one with `registry mirror keys`): {error}") from None
    private = key.private_key
    if not isinstance(private, ec.EllipticCurvePrivateKey) or document.get("crv") != "P-256":
        raise KeyFileError(f"{path} holds no EC P-256 private key (make one with `registry mirror keys`)")
    kid = str(document.get("kid") or key.thumbprint())
    public = {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": "ES256"}
    return MirrorKey(kid, private, public)
