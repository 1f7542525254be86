"""OpenID Connect sign-in: authorization code flow with PKCE and nonce (authlib), ID token checked (joserfc)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from registry.settings import Settings

CLOCK_SKEW_SECONDS = 60
_METADATA_TTL_SECONDS = 3600


class OIDCError(Exception):
    """The provider's answer cannot be trusted; the user is not signed in."""


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


_metadata_cache: dict[str, tuple[float, dict[str, Any], dict[str, Any]]] = {}


def _metadata(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The provider's discovery document and keys, cached for an hour per worker."""
    cached = _metadata_cache.get(settings.oidc_issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    discovery = httpx.get(f"{settings.oidc_issuer}/.well-known/openid-configuration", timeout=10).json()
    if discovery.get("issuer", "").rstrip("/") != settings.oidc_issuer:
        raise OIDCError("the provider's discovery document names another issuer")
    keys = httpx.get(discovery["jwks_uri"], timeout=10).json()
    _metadata_cache[settings.oidc_issuer] = (time.monotonic() + _METADATA_TTL_SECONDS, discovery, keys)
    return discovery, keys


def _client(settings: Settings) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        scope="openid email profile",
        redirect_uri=f"{settings.base_url}/signin/oidc/callback",
        code_challenge_method="S256",
        timeout=10,
    )


def begin(settings: Settings) -> tuple[str, dict[str, str]]:
    """The provider's authorization URL and what the session must remember until the callback."""
    discovery, _ = _metadata(settings)
    verifier, nonce = generate_token(64), generate_token(32)
    with _client(settings) as client:
        url, state = client.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
    return url, {"state": state, "nonce": nonce, "verifier": verifier}


def complete(settings: Settings, pending: dict[str, str], *, code: str, state: str) -> Identity:
    """Redeem the code and check the ID token: signature, issuer, audience, expiry and nonce."""
    if not pending or not state or state != pending.get("state"):
        raise OIDCError("the sign-in answer does not belong to this browser's sign-in")
    discovery, keys = _metadata(settings)
    with _client(settings) as client:
        try:
            token = client.fetch_token(
                discovery["token_endpoint"], code=code, code_verifier=pending["verifier"], state=state
            )
        except Exception as error:  # authlib raises several error types for a refused code
            raise OIDCError(f"the provider refused the code: {error}") from error
    id_token = token.get("id_token")
    if not id_token:
        raise OIDCError("the provider returned no ID token")
    try:
        key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
        decoded = jwt.decode(id_token, key_set, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": settings.oidc_issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": pending["nonce"]},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as error:
        raise OIDCError(f"the ID token is not valid: {error}") from error
    claims = decoded.claims
    # The ID token may carry only sub; e-mail and name then come from the userinfo endpoint.
    if "email" not in claims and discovery.get("userinfo_endpoint"):
        info = httpx.get(
            discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
        ).json()
        if info.get("sub") == claims["sub"]:
            claims = {**info, **claims}
    return Identity(
        subject=str(claims["sub"]),
        email=claims.get("email"),
        email_verified=bool(claims.get("email_verified")),
        name=claims.get("name"),
    )
