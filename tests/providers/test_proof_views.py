"""Provider staff prove a did:key and a domain through the screens; the trust API then resolves them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, select

from registry.app import create_app
from registry.providers import proofs
from registry.providers.models import Provider, ProviderIdentifier
from registry.providers.services import add_identifier
from registry.settings import Settings
from tests import factories as f
from tests.conftest import free_port, post_form, sign_in
from tests.factories import World
from tests.https_server import LocalHTTPS, local_https
from tests.providers.test_proofs import LOCAL_NAME, ed25519_did_key, resolving, sign

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHTTPS]:
    with local_https(tmp_path_factory.mktemp("https"), names=(LOCAL_NAME,)) as running:
        yield running


@pytest.fixture
def fetching_client(
    settings: Settings, connection: Connection, server: LocalHTTPS, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    resolving(monkeypatch, {LOCAL_NAME: [["127.0.0.1"]]})
    server.routes.clear()
    fetching = dataclasses.replace(
        settings, allow_private_fetch=True, fetch_ca_bundle=str(server.ca_file), fetch_https_port=server.port
    )
    with TestClient(create_app(fetching, bind=connection), base_url="http://registry.test") as client:
        yield client


def _claim(session: Session, world: World, scheme: str, value: str) -> ProviderIdentifier:
    provider = session.get(Provider, world.provider_p)
    assert provider is not None
    identifier = add_identifier(session, provider, scheme=scheme, value=value, origin="claimed", actor=f.TEST)
    session.commit()
    return identifier


def _challenge(client: TestClient, identifier: ProviderIdentifier) -> tuple[str, str]:
    assert post_form(client, f"/staff/identifiers/{identifier.id}/proof/challenge", {}).status_code == 303
    page = client.get(f"/staff/identifiers/{identifier.id}/proof", headers=HTML)
    text = re.search(r"(qa-registry-proof-[A-Za-z0-9_-]+)", page.text)
    challenge_id = re.search(r'name="challenge_id" value="(\d+)"', page.text)
    assert text is not None and challenge_id is not None, page.text[:500]
    return text.group(1), challenge_id.group(1)


def _resolves(client: TestClient, identifier: str) -> str:
    return str(client.get("/api/v1/trust", params={"identifier": identifier}).json()["status"])


class TestProofScreens:
    def test_a_did_key_is_proven_by_signing_the_challenge(
        self, session: Session, fetching_client: TestClient, world: World
    ) -> None:
        key, did = ed25519_did_key()
        identifier = _claim(session, world, "did", did)
        client = fetching_client
        assert _resolves(client, did) == "unknown"
        sign_in(client, world.emails["staff_p"])
        assert (
            f'href="/staff/identifiers/{identifier.id}/proof"'
            in client.get(f"/staff/providers/{world.provider_p}", headers=HTML).text
        )
        text, challenge_id = _challenge(client, identifier)
        wrong = post_form(
            client,
            f"/staff/identifiers/{identifier.id}/proof",
            {"challenge_id": challenge_id, "signature": sign("other text", key)},
            headers=HTML,
        )
        assert wrong.status_code == 400 and 'id="e-proof"' in wrong.text
        signed = sign(text, key)
        proven = post_form(
            client, f"/staff/identifiers/{identifier.id}/proof", {"challenge_id": challenge_id, "signature": signed}
        )
        assert proven.status_code == 303
        assert _resolves(client, did) != "unknown"

    def test_a_domain_is_proven_by_publishing_the_challenge(
        self, session: Session, fetching_client: TestClient, world: World, server: LocalHTTPS
    ) -> None:
        identifier = _claim(session, world, "domain", LOCAL_NAME)
        client = fetching_client
        sign_in(client, world.emails["staff_p"])
        text, challenge_id = _challenge(client, identifier)
        page = client.get(f"/staff/identifiers/{identifier.id}/proof", headers=HTML)
        assert proofs.WELL_KNOWN_CHALLENGE in page.text
        server.serve(proofs.WELL_KNOWN_CHALLENGE, text)
        proven = post_form(client, f"/staff/identifiers/{identifier.id}/proof", {"challenge_id": challenge_id})
        assert proven.status_code == 303, proven.text[:400]
        session.expire_all()
        stored = session.exec(select(ProviderIdentifier).where(ProviderIdentifier.id == identifier.id)).one()
        assert stored.origin == "proven"
        assert _resolves(client, LOCAL_NAME) != "unknown"

    def test_a_failing_fetch_is_a_message_next_to_the_form(
        self, session: Session, fetching_client: TestClient, world: World, server: LocalHTTPS
    ) -> None:
        identifier = _claim(session, world, "domain", LOCAL_NAME)
        client = fetching_client
        sign_in(client, world.emails["staff_p"])
        _, challenge_id = _challenge(client, identifier)
        server.serve(proofs.WELL_KNOWN_CHALLENGE, "", 302, Location=proofs.WELL_KNOWN_CHALLENGE)
        looping = post_form(
            client, f"/staff/identifiers/{identifier.id}/proof", {"challenge_id": challenge_id}, headers=HTML
        )
        assert looping.status_code == 400
        assert 'id="e-proof"' in looping.text and "redirects more than 3 times" in looping.text
        # The server goes away: a refused connection is a message too, and the challenge stays usable.
        gone = dataclasses.replace(client.app.state.settings, fetch_https_port=free_port(range(8300, 8400)))
        with TestClient(
            create_app(gone, bind=client.app.state.database.bind), base_url="http://registry.test"
        ) as other:
            sign_in(other, world.emails["staff_p"])
            refused = post_form(
                other, f"/staff/identifiers/{identifier.id}/proof", {"challenge_id": challenge_id}, headers=HTML
            )
        assert refused.status_code == 400, refused.text[:300]
        assert f"{LOCAL_NAME} refused the connection" in refused.text

    def test_only_the_providers_staff_prove(self, session: Session, client: TestClient, world: World) -> None:
        identifier = _claim(session, world, "domain", "claimed-only.example")
        sign_in(client, world.emails["editor_a"])
        assert client.get(f"/staff/identifiers/{identifier.id}/proof", headers=HTML).status_code == 403
        assert (
            post_form(client, f"/staff/identifiers/{identifier.id}/proof/challenge", {}, headers=HTML).status_code
            == 403
        )
