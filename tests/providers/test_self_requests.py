"""A provider's own entry stays invisible to verifiers until an agency editor or operator confirms it."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.accounts.models import RoleMembership
from registry.audit.models import AuditEvent
from registry.errors import Conflict, PermissionDenied
from registry.providers.models import Provider, ProviderIdentifier
from registry.providers.self_requests import confirm_entry, pending_requests, request_entry
from registry.providers.services import ProviderInput, add_identifier
from registry.trust.models import TrustTimeline
from tests import factories as f

EDITOR = [RoleMembership(user_id=1, role="agency editor", agency_id=1)]


def requested(session: Session) -> Provider:
    return request_entry(
        session,
        ProviderInput(
            name="Self-Made Academy",
            country="NL",
            provider_type="employer academy",
            identifiers=[{"scheme": "domain", "value": "self-made.example", "origin": "agency"}],
        ),
        f.TEST,
    )


class TestSelfRequest:
    def test_requested_entry_is_unconfirmed_with_claimed_identifiers(self, session: Session) -> None:
        provider = requested(session)
        assert provider.confirmed is False
        origins = session.exec(select(ProviderIdentifier.origin).where(ProviderIdentifier.provider_id == provider.id))
        assert list(origins) == ["claimed"]
        assert session.get(TrustTimeline, provider.id) is None
        assert provider in pending_requests(session)

    def test_confirmation_makes_the_provider_visible(self, session: Session, client: TestClient) -> None:
        provider = requested(session)
        f.result(session, f.agency(session), [provider], valid_from="2020-01-01", valid_to="2099-12-31")
        # An identifier an agency vouches for resolves; the provider's own claim would not.
        add_identifier(session, provider, scheme="did", value="did:web:self-made.example", actor=f.TEST)
        session.commit()
        before = client.get("/api/v1/trust", params={"identifier": "did:web:self-made.example"}).json()
        assert before["status"] == "unknown"
        confirm_entry(session, provider, roles=EDITOR, actor=f.TEST, expected_version=provider.version)
        session.commit()
        assert provider.confirmed and provider not in pending_requests(session)
        timeline = session.get(TrustTimeline, provider.id)
        assert timeline is not None and timeline.current_status == "trusted"
        after = client.get("/api/v1/trust", params={"identifier": "did:web:self-made.example"}).json()
        assert after["status"] == "trusted"
        claimed = client.get("/api/v1/trust", params={"identifier": "self-made.example", "scheme": "domain"}).json()
        assert claimed["status"] == "unknown"
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.entity_id == provider.id)).all()
        assert {"provider.request", "provider.confirm"} <= set(actions)

    def test_only_operators_and_agency_editors_confirm(self, session: Session) -> None:
        provider = requested(session)
        for roles in (
            [],
            [RoleMembership(user_id=1, role="provider staff", provider_id=provider.id)],
            [RoleMembership(user_id=1, role="agency reviewer", agency_id=1)],
        ):
            with pytest.raises(PermissionDenied):
                confirm_entry(session, provider, roles=roles, actor=f.TEST, expected_version=provider.version)
        confirm_entry(
            session,
            provider,
            roles=[RoleMembership(user_id=1, role="operator")],
            actor=f.TEST,
            expected_version=provider.version,
        )
        assert provider.confirmed

    def test_stale_or_repeated_confirmation_is_a_conflict(self, session: Session) -> None:
        provider = requested(session)
        with pytest.raises(Conflict, match="changed by someone else"):
            confirm_entry(session, provider, roles=EDITOR, actor=f.TEST, expected_version=provider.version + 1)
        confirm_entry(session, provider, roles=EDITOR, actor=f.TEST, expected_version=provider.version)
        with pytest.raises(Conflict, match="confirmed already"):
            confirm_entry(session, provider, roles=EDITOR, actor=f.TEST, expected_version=provider.version)
