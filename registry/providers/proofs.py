"""Proof of control of a claimed identifier: a single-use challenge the provider signs or publishes.

- did:key: a compact JWS over the challenge, signed with the key the DID itself encodes.
- did:web: the same JWS, checked against the keys in https://<host>/.well-known/did.json (or <path>/did.json).
- url / domain: the challenge as the text of https://<host>/.well-known/qa-registry-challenge.txt.

A proven identifier resolves in the trust API; a claimed one never does.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.audit.services import Actor, record_event, snapshot
from registry.db import UnitsOfWork
from registry.errors import Conflict, NotFound, ValidationFailed
from registry.providers.dids import InvalidDid, did_key_jwk, did_web_keys, verify_compact_jws
from registry.providers.fetch import FetchFailed, fetch
from registry.providers.models import IdentifierChallenge, ProviderIdentifier
from registry.providers.services import established_holder
from registry.settings import Settings
from registry.timeutil import utcnow

WELL_KNOWN_CHALLENGE = "/.well-known/qa-registry-challenge.txt"
CHALLENGE_PREFIX = "qa-registry-proof-"


def proof_method(identifier: ProviderIdentifier) -> str:
    """How this identifier is proven: did:key, did:web, or the well-known file (url, domain)."""
    if identifier.scheme == "did" and identifier.normalised.startswith("did:key:"):
        return "did:key"
    if identifier.scheme == "did" and identifier.normalised.startswith("did:web:"):
        return "did:web"
    if identifier.scheme in ("url", "domain"):
        return "well-known"
    raise ValidationFailed(
        {"scheme": "only did:key, did:web, issuer URL and domain identifiers can be proven by the provider"}
    )


def issue_challenge(
    session: Session, identifier: ProviderIdentifier, *, actor: Actor, settings: Settings
) -> IdentifierChallenge:
    if identifier.origin != "claimed":
        raise Conflict(
            f"{identifier.normalised} is already established ({identifier.origin}); there is nothing to prove."
        )
    proof_method(identifier)
    now = utcnow()
    challenge = IdentifierChallenge(
        identifier_id=identifier.id or 0,
        created_at=now,
        challenge=CHALLENGE_PREFIX + secrets.token_urlsafe(32),
        issued_by_user_id=actor.user_id,
        expires_at=now + dt.timedelta(minutes=settings.proof_challenge_minutes),
    )
    session.add(challenge)
    session.flush()
    record_event(session, actor, "identifier.challenge", challenge)
    return challenge


def open_challenge(session: Session, identifier_id: int) -> IdentifierChallenge | None:
    """The newest challenge for this identifier that is neither used nor expired."""
    return session.exec(
        select(IdentifierChallenge)
        .where(
            IdentifierChallenge.identifier_id == identifier_id,
            col(IdentifierChallenge.used_at).is_(None),
            col(IdentifierChallenge.expires_at) > utcnow(),
        )
        .order_by(col(IdentifierChallenge.id).desc())
    ).first()


def well_known_url(identifier: ProviderIdentifier, settings: Settings) -> str:
    if identifier.scheme == "url":
        return f"https://{urlsplit(identifier.normalised).netloc}{WELL_KNOWN_CHALLENGE}"
    port = "" if settings.fetch_https_port == 443 else f":{settings.fetch_https_port}"
    return f"https://{identifier.normalised}{port}{WELL_KNOWN_CHALLENGE}"


def verify_proof(
    db: UnitsOfWork,
    challenge_id: int,
    *,
    actor: Actor,
    settings: Settings,
    signature: str | None = None,
) -> ProviderIdentifier:
    """Check the proof for a challenge; on success the identifier becomes "proven" and the challenge is spent.

    The check may wait on the provider's server for seconds, so no transaction is open meanwhile:
    the state is read, the proof checked, and the outcome recorded in a new unit of work that
    checks the state again. A failed check leaves the challenge usable until it expires, so the
    provider can fix its setup.
    """
    with db.read() as session:
        challenge, identifier = _open_for_proof(session, challenge_id)
        expected = challenge.challenge
    problem = _check(identifier, expected, signature, settings)
    if problem:
        raise ValidationFailed({"proof": problem})
    with db.write() as session:
        challenge, identifier = _open_for_proof(session, challenge_id)
        return _record_proof(session, challenge, identifier, actor)


def _open_for_proof(session: Session, challenge_id: int) -> tuple[IdentifierChallenge, ProviderIdentifier]:
    """The challenge and its identifier, if the challenge can still prove it."""
    challenge = session.get(IdentifierChallenge, challenge_id)
    if challenge is None:
        raise NotFound(f"There is no identifier challenge with id {challenge_id}.")
    identifier = session.get(ProviderIdentifier, challenge.identifier_id)
    if identifier is None:
        raise NotFound(f"There is no identifier with id {challenge.identifier_id}.")
    if challenge.used_at is not None:
        raise Conflict("This challenge has been used already; ask for a new one.")
    if _aware(challenge.expires_at) <= utcnow():
        raise ValidationFailed({"challenge": "this challenge has expired; ask for a new one"})
    if identifier.origin != "claimed":
        raise Conflict(f"{identifier.normalised} is already established ({identifier.origin}).")
    holder = established_holder(
        session, identifier.scheme, identifier.normalised, identifier.valid_from, identifier.valid_to, identifier.id
    )
    if holder is not None:
        raise Conflict(
            f"{identifier.normalised} is already established for provider {holder.provider_id}; "
            "ask the registry's operators to correct the record."
        )
    return challenge, identifier


def _record_proof(
    session: Session, challenge: IdentifierChallenge, identifier: ProviderIdentifier, actor: Actor
) -> ProviderIdentifier:
    now = utcnow()
    # Spend the challenge with a guarded update, so two simultaneous checks cannot both use it.
    spent = session.execute(
        update(IdentifierChallenge)
        .where(col(IdentifierChallenge.id) == challenge.id, col(IdentifierChallenge.used_at).is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This challenge has been used already; ask for a new one.")
    session.refresh(challenge)
    before = snapshot(identifier)
    identifier.origin = "proven"
    identifier.established_at = now
    session.add(identifier)
    record_event(session, actor, "identifier.prove", identifier, before=before)
    return identifier


def _check(identifier: ProviderIdentifier, expected: str, signature: str | None, settings: Settings) -> str | None:
    """None when the proof holds, else what is wrong, in words the provider can act on."""
    method = proof_method(identifier)
    try:
        if method == "well-known":
            url = well_known_url(identifier, settings)
            published = fetch(url, settings).decode("utf-8", errors="replace").strip()
            if not hmac.compare_digest(published, expected):
                return f"{url} does not contain the challenge text"
            return None
        if not signature:
            return "send the challenge signed as a compact JWS with the DID's key"
        keys = (
            [did_key_jwk(identifier.normalised)]
            if method == "did:key"
            else did_web_keys(identifier.normalised, settings)
        )
    except (FetchFailed, InvalidDid) as error:
        return str(error)
    if not any(verify_compact_jws(signature, key, expected) for key in keys):
        return "the signature is not a JWS of this challenge by a key of the DID"
    return None


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands datetimes back without a zone; they are stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
