"""Proof of control of claimed identifiers, checked against a real local HTTPS server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import base58
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.audit.models import AuditEvent
from registry.errors import Conflict, ValidationFailed
from registry.providers import dids, proofs
from registry.providers.models import IdentifierChallenge, Provider, ProviderIdentifier
from registry.providers.services import add_identifier
from registry.settings import Settings
from registry.web import Database
from tests import factories as f
from tests.https_server import LocalHTTPS, local_https

SIGNING = jws.JWSRegistry(algorithms=["EdDSA", "Ed25519", "ES256"])


# A domain name the tests resolve to the local server: a domain identifier is never an IP address.
LOCAL_NAME = "learn.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHTTPS]:
    with local_https(tmp_path_factory.mktemp("https"), names=(LOCAL_NAME,)) as running:
        yield running


def resolving(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Answer name look-ups from `answers` (one list of addresses per look-up, the last repeated); returns the
    names asked, in order. Other names resolve as usual."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        rounds = answers[host]
        addresses = rounds[min(asked.count(host), len(rounds)) - 1]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def fetching(settings: Settings, server: LocalHTTPS, monkeypatch: pytest.MonkeyPatch) -> Settings:
    resolving(monkeypatch, {LOCAL_NAME: [["127.0.0.1"]]})
    server.routes.clear()
    server.requests.clear()
    return dataclasses.replace(
        settings, allow_private_fetch=True, fetch_ca_bundle=str(server.ca_file), fetch_https_port=server.port
    )


@pytest.fixture
def provider(session: Session) -> Provider:
    made = f.provider(session, identifiers=[])
    f.result(session, f.agency(session), [made], valid_from="2020-01-01", valid_to="2099-12-31")
    return made


def claim(session: Session, provider: Provider, scheme: str, value: str) -> ProviderIdentifier:
    return add_identifier(session, provider, scheme=scheme, value=value, actor=f.TEST, origin="claimed")


def ed25519_did_key() -> tuple[OKPKey, str]:
    key = OKPKey.generate_key("Ed25519")
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)  # type: ignore[union-attr]
    return key, "did:key:z" + base58.b58encode(dids.ED25519_PUB + raw).decode()


def p256_did_key() -> tuple[ECKey, str]:
    key = ECKey.generate_key("P-256")
    point = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)  # type: ignore[union-attr]
    return key, "did:key:z" + base58.b58encode(dids.P256_PUB + point).decode()


def sign(text: str, key: OKPKey | ECKey, alg: str = "EdDSA") -> str:
    """Wallets still sign Ed25519 as "EdDSA", which joserfc warns about; that is what we must accept."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jws.serialize_compact({"alg": alg}, text, key, registry=SIGNING)


def issue(session: Session, identifier: ProviderIdentifier, settings: Settings) -> IdentifierChallenge:
    return proofs.issue_challenge(session, identifier, actor=f.TEST, settings=settings)


def verify(
    session: Session, challenge: IdentifierChallenge, settings: Settings, signature: str | None = None
) -> ProviderIdentifier:
    """Verify through units of work of their own on the test's connection, as the screens do."""
    proven = proofs.verify_proof(
        Database(session.connection()), challenge.id or 0, actor=f.TEST, settings=settings, signature=signature
    )
    session.expire_all()
    return proven


class TestDidKey:
    def test_known_did_key_vector_resolves_offline(self) -> None:
        # From the did:key method specification's Ed25519 test vectors.
        jwk = dids.did_key_jwk("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
        assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"}

    def test_ed25519_signature_proves_the_identifier(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        key, did = ed25519_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, settings)
        proven = verify(session, challenge, settings, sign(challenge.challenge, key))
        assert proven.origin == "proven"
        session.refresh(challenge)
        assert challenge.used_at is not None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "identifier.prove")).one()
        assert (event.before or {})["origin"] == "claimed" and (event.after or {})["origin"] == "proven"

    def test_p256_signature_proves_the_identifier(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        key, did = p256_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, settings)
        assert verify(session, challenge, settings, sign(challenge.challenge, key, "ES256")).origin == "proven"

    def test_signature_by_another_key_is_refused(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        _, did = ed25519_did_key()
        other, _ = ed25519_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, settings)
        with pytest.raises(ValidationFailed, match="not a JWS of this challenge"):
            verify(session, challenge, settings, sign(challenge.challenge, other))
        assert identifier.origin == "claimed" and challenge.used_at is None

    def test_signature_over_other_text_is_refused(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        key, did = ed25519_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, settings)
        with pytest.raises(ValidationFailed, match="not a JWS of this challenge"):
            verify(session, challenge, settings, sign(challenge.challenge + "x", key))
        with pytest.raises(ValidationFailed, match="compact JWS"):
            verify(session, challenge, settings, None)

    def test_challenge_is_single_use(self, session: Session, provider: Provider, settings: Settings) -> None:
        key, did = ed25519_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, settings)
        token = sign(challenge.challenge, key)
        verify(session, challenge, settings, token)
        with pytest.raises(Conflict, match="used already"):
            verify(session, challenge, settings, token)

    def test_expired_challenge_is_refused(self, session: Session, provider: Provider, settings: Settings) -> None:
        key, did = ed25519_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, dataclasses.replace(settings, proof_challenge_minutes=5))
        assert challenge.expires_at - challenge.created_at == dt.timedelta(minutes=5)
        challenge.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.add(challenge)
        session.flush()
        with pytest.raises(ValidationFailed, match="expired"):
            verify(session, challenge, settings, sign(challenge.challenge, key))
        assert identifier.origin == "claimed"

    def test_only_claimed_and_provable_identifiers_get_challenges(
        self, session: Session, provider: Provider, settings: Settings
    ) -> None:
        established = add_identifier(session, provider, scheme="did", value="did:web:agency-set.example", actor=f.TEST)
        with pytest.raises(Conflict, match="already established"):
            issue(session, established, settings)
        deqar = claim(session, provider, "deqar", "DEQARINST0999")
        with pytest.raises(ValidationFailed, match="can be proven"):
            issue(session, deqar, settings)


class TestDidWeb:
    def did(self, server: LocalHTTPS, path: str = "") -> str:
        return f"did:web:127.0.0.1%3A{server.port}{path}"

    def document(self, did: str, method: dict[str, object]) -> str:
        return json.dumps({"id": did, "verificationMethod": [{"id": f"{did}#key-1", "controller": did, **method}]})

    def test_jwk_in_well_known_document(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        key = ECKey.generate_key("P-256")
        did = self.did(server)
        server.serve("/.well-known/did.json", self.document(did, {"publicKeyJwk": key.as_dict(private=False)}))
        challenge = issue(session, claim(session, provider, "did", did), fetching)
        assert verify(session, challenge, fetching, sign(challenge.challenge, key, "ES256")).origin == "proven"
        assert server.requests == ["/.well-known/did.json"]

    def test_multibase_key_in_path_document(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        key, did_key = ed25519_did_key()
        did = self.did(server, ":issuers:main")
        server.serve(
            "/issuers/main/did.json", self.document(did, {"publicKeyMultibase": did_key.removeprefix("did:key:")})
        )
        challenge = issue(session, claim(session, provider, "did", did), fetching)
        assert verify(session, challenge, fetching, sign(challenge.challenge, key, "Ed25519")).origin == "proven"

    def test_key_not_in_the_document_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        listed, intruder = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
        did = self.did(server)
        server.serve("/.well-known/did.json", self.document(did, {"publicKeyJwk": listed.as_dict(private=False)}))
        challenge = issue(session, claim(session, provider, "did", did), fetching)
        with pytest.raises(ValidationFailed, match="not a JWS of this challenge"):
            verify(session, challenge, fetching, sign(challenge.challenge, intruder, "ES256"))

    def test_document_for_another_did_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        key = ECKey.generate_key("P-256")
        did = self.did(server)
        server.serve(
            "/.well-known/did.json",
            self.document("did:web:elsewhere.example", {"publicKeyJwk": key.as_dict(private=False)}),
        )
        challenge = issue(session, claim(session, provider, "did", did), fetching)
        with pytest.raises(ValidationFailed, match="document's id"):
            verify(session, challenge, fetching, sign(challenge.challenge, key, "ES256"))

    def test_a_document_nested_too_deeply_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        key = ECKey.generate_key("P-256")
        did = self.did(server)
        server.serve("/.well-known/did.json", "[" * 60_000)
        challenge = issue(session, claim(session, provider, "did", did), fetching)
        with pytest.raises(ValidationFailed, match="nested too deeply"):
            verify(session, challenge, fetching, sign(challenge.challenge, key, "ES256"))


class TestWellKnown:
    def test_url_identifier_proven_by_the_published_challenge(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/issuer")
        challenge = issue(session, identifier, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge + "\n")
        assert verify(session, challenge, fetching).origin == "proven"

    def test_domain_identifier_proven_by_the_published_challenge(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "domain", LOCAL_NAME)
        challenge = issue(session, identifier, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge)
        assert verify(session, challenge, fetching).origin == "proven"
        assert server.requests == [proofs.WELL_KNOWN_CHALLENGE]

    def test_an_ip_address_is_not_a_domain_identifier(self, session: Session, provider: Provider) -> None:
        for literal in ("127.0.0.1", "10.0.0.1", "127.1", "::1", "[64:ff9b::7f00:1]"):
            with pytest.raises(ValidationFailed, match="an IP address is not a domain name"):
                claim(session, provider, "domain", literal)

    def test_an_identifier_another_provider_holds_cannot_be_proven(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/held")
        f.provider(session, identifiers=[{"scheme": "url", "value": f"{server.origin}/held"}])
        challenge = issue(session, identifier, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge)
        with pytest.raises(Conflict, match="already established for provider"):
            verify(session, challenge, fetching)
        assert identifier.origin == "claimed"

    def test_wrong_challenge_text_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/issuer")
        old = issue(session, identifier, fetching)
        challenge = issue(session, identifier, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, old.challenge)
        with pytest.raises(ValidationFailed, match="does not contain the challenge"):
            verify(session, challenge, fetching)
        assert identifier.origin == "claimed"

    def test_oversize_body_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/issuer")
        challenge = issue(session, identifier, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge + " " * 70_000)
        with pytest.raises(ValidationFailed, match="larger than"):
            verify(session, challenge, fetching)
        # A server that does not announce the length is cut off while reading.
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge + " " * 70_000, send_length=False)
        with pytest.raises(ValidationFailed, match="larger than"):
            verify(session, challenge, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge, send_length=False)
        assert verify(session, challenge, fetching).origin == "proven"

    def test_redirect_to_another_host_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/issuer")
        challenge = issue(session, identifier, fetching)
        server.serve("/elsewhere.txt", challenge.challenge)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, "", 302, Location=f"https://localhost:{server.port}/elsewhere.txt")
        with pytest.raises(ValidationFailed, match="redirects to another host"):
            verify(session, challenge, fetching)
        assert "/elsewhere.txt" not in server.requests

    def test_redirect_on_the_same_host_is_followed(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/issuer")
        challenge = issue(session, identifier, fetching)
        server.serve("/moved.txt", challenge.challenge)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, "", 301, Location="/moved.txt")
        assert verify(session, challenge, fetching).origin == "proven"

    def test_missing_file_is_refused(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        challenge = issue(session, claim(session, provider, "url", f"{server.origin}/issuer"), fetching)
        with pytest.raises(ValidationFailed, match="HTTP 404"):
            verify(session, challenge, fetching)

    def test_private_address_refused_unless_allowed(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        identifier = claim(session, provider, "url", f"{server.origin}/issuer")
        challenge = issue(session, identifier, fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge)
        with pytest.raises(ValidationFailed, match="not a public address"):
            verify(session, challenge, dataclasses.replace(fetching, allow_private_fetch=False))
        assert server.requests == []
        assert verify(session, challenge, fetching).origin == "proven"

    def test_an_untrusted_certificate_is_a_message_not_an_exception(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS, tmp_path: Path
    ) -> None:
        other_ca = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other_ca))
        challenge = issue(session, claim(session, provider, "url", f"{server.origin}/issuer"), fetching)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, challenge.challenge)
        with pytest.raises(ValidationFailed, match="certificate of 127.0.0.1 is not trusted") as refused:
            verify(session, challenge, dataclasses.replace(fetching, fetch_ca_bundle=str(other_ca)))
        assert "unable to get local issuer certificate" in refused.value.errors["proof"]
        session.refresh(challenge)
        assert challenge.used_at is None


class TestNetworkFailures:
    """Each way the provider's server can fail is a message on the proof, and the challenge stays usable."""

    def test_refused_unresolvable_and_looping_servers_are_messages(
        self, session: Session, provider: Provider, fetching: Settings, server: LocalHTTPS
    ) -> None:
        from tests.conftest import free_port

        closed = free_port(range(8300, 8400))
        server.serve("/.well-known/qa-registry-challenge.txt", "", 302, Location=proofs.WELL_KNOWN_CHALLENGE)
        for origin, said in (
            (f"https://127.0.0.1:{closed}", f"127.0.0.1 refused the connection on port {closed}"),
            ("https://proof-check.invalid", "proof-check.invalid does not resolve to an address"),
            (server.origin, "redirects more than 3 times"),
        ):
            challenge = issue(session, claim(session, provider, "url", f"{origin}/issuer"), fetching)
            with pytest.raises(ValidationFailed, match=said):
                verify(session, challenge, fetching)
            session.refresh(challenge)
            assert challenge.used_at is None


class TestTrustApi:
    def test_identifier_resolves_only_after_the_proof(
        self, session: Session, provider: Provider, settings: Settings, client: TestClient
    ) -> None:
        key, did = ed25519_did_key()
        identifier = claim(session, provider, "did", did)
        challenge = issue(session, identifier, settings)
        session.commit()
        before = client.get("/api/v1/trust", params={"identifier": did}).json()
        assert (before["status"], before["trusted"]) == ("unknown", False)
        verify(session, challenge, settings, sign(challenge.challenge, key))
        session.commit()
        after = client.get("/api/v1/trust", params={"identifier": did}).json()
        assert (after["status"], after["provider"]["id"]) == ("trusted", provider.id)
