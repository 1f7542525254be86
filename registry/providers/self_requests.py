"""Entries a provider requests for itself: invisible to verifiers until an agency or operator confirms them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.accounts.models import RoleMembership
from registry.accounts.roles import agency_ids, is_operator
from registry.audit.services import Actor, record_event, snapshot
from registry.errors import Conflict, FieldErrors, PermissionDenied, ValidationFailed
from registry.providers.models import Provider
from registry.providers.services import ProviderInput, create_provider
from registry.timeutil import utcnow

# Who acts when an anonymous visitor requests an entry: what they typed is data, never an identity.
ENTRY_REQUEST = Actor("entry request")


def request_entry(
    session: Session, data: ProviderInput, actor: Actor = ENTRY_REQUEST, *, contact: str | None = None
) -> Provider:
    """Record a provider's own request; its identifiers are claims until the provider proves them.

    The requester's address (when the form asks for it) is kept with the request for the editors.
    """
    errors = FieldErrors()
    address = None
    if contact is not None:
        address = errors.text("contact", contact, max_length=320)
        if address and "@" not in address:
            errors.add("contact", "an e-mail address has an @")
    claimed = [{**identifier, "origin": "claimed"} for identifier in data.identifiers]
    try:
        provider = create_provider(
            session,
            dataclasses.replace(data, identifiers=claimed),
            actor,
            confirmed=False,
            request_contact=address or None,
        )
    except ValidationFailed as failed:
        raise ValidationFailed({**failed.errors, **errors.errors}) from failed
    errors.raise_if_any()
    after = {**(snapshot(provider) or {}), **({"contact": address} if address else {})}
    record_event(session, actor, "provider.request", provider, after=after)
    return provider


def pending_requests(session: Session) -> list[Provider]:
    return list(
        session.exec(
            select(Provider)
            .where(col(Provider.confirmed).is_(False), col(Provider.rejected_at).is_(None))
            .order_by(col(Provider.id))
        )
    )


def confirm_entry(
    session: Session,
    provider: Provider,
    *,
    roles: Sequence[RoleMembership],
    actor: Actor,
    expected_version: int,
) -> Provider:
    """An operator or an agency editor vouches for the entry; from now on verifiers can see it."""
    if not (is_operator(roles) or agency_ids(roles, "agency editor")):
        raise PermissionDenied("Only an operator or an agency editor can confirm a provider's own entry.")
    if provider.version != expected_version:
        raise Conflict(
            f"This provider was changed by someone else (version {provider.version}, you saw "
            f"version {expected_version}). Reload it and confirm again."
        )
    if provider.confirmed:
        raise Conflict(f"Provider {provider.id} is confirmed already.")
    if provider.rejected_at is not None:
        raise Conflict("This entry request was refused; the provider can send a new request.")
    before = snapshot(provider)
    provider.confirmed = True
    provider.version += 1
    provider.updated_at = utcnow()
    session.add(provider)
    record_event(session, actor, "provider.confirm", provider, before=before)
    return provider


def reject_entry(
    session: Session,
    provider: Provider,
    *,
    reason: str,
    roles: Sequence[RoleMembership],
    actor: Actor,
    expected_version: int,
) -> Provider:
    """Refuse a request: it leaves the waiting list and stays invisible to verifiers; kept for audit."""
    if not (is_operator(roles) or agency_ids(roles, "agency editor")):
        raise PermissionDenied("Only an operator or an agency editor can refuse a provider's own entry.")
    if provider.confirmed or provider.rejected_at is not None:
        raise Conflict("This entry request was already decided.")
    if provider.version != expected_version:
        raise Conflict("This entry request was changed by someone else. Reload it and decide again.")
    errors = FieldErrors()
    text = errors.text("reason", reason, max_length=2000)
    errors.raise_if_any()
    before = snapshot(provider)
    provider.rejected_at = utcnow()
    provider.rejected_reason = text
    provider.version += 1
    provider.updated_at = utcnow()
    session.add(provider)
    record_event(session, actor, "provider.request_reject", provider, before=before)
    return provider
