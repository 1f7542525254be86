"""The proof fetch under failing and hostile networks: every failure is a message, never an exception."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from registry import migrations
from registry.db import create_db_engine
from registry.errors import ValidationFailed
from registry.providers import fetch, proofs
from registry.providers.fetch import FetchFailed
from registry.providers.models import Provider
from registry.reference.services import load_reference
from registry.settings import Settings
from registry.web import Database
from tests import factories as f
from tests.conftest import free_port
from tests.https_server import LocalHTTPS, local_https
from tests.providers.test_proofs import LOCAL_NAME, claim, issue, resolving

WELL_KNOWN = proofs.WELL_KNOWN_CHALLENGE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHTTPS]:
    with local_https(tmp_path_factory.mktemp("https"), names=(LOCAL_NAME,)) as running:
        yield running


@pytest.fixture
def local(tmp_path: Path, server: LocalHTTPS) -> Settings:
    """Settings that reach the local server (private addresses allowed), with a short deadline."""
    server.routes.clear()
    server.requests.clear()
    return Settings(
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        allow_private_fetch=True,
        fetch_ca_bundle=str(server.ca_file),
        fetch_https_port=server.port,
        fetch_timeout_seconds=1.5,
    )


class TestAddresses:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "::1",
            "::ffff:127.0.0.1",  # IPv4-mapped
            "::7f00:1",  # IPv4-compatible
            "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
            "64:ff9b::a9fe:a9fe",  # NAT64 of the cloud metadata address
            "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
            "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
            "2002:7f00:1::1",  # 6to4 of 127.0.0.1
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
            "fe80::1%eth0",
            "fc00::1",
        ],
    )
    def test_internal_addresses_in_every_spelling_are_refused(self, address: str) -> None:
        assert fetch.refusal(address) is not None

    @pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:85e5", "64:ff9b::5db8:d822"])
    def test_public_addresses_pass(self, address: str) -> None:
        assert fetch.refusal(address) is None

    def test_a_name_with_any_internal_address_is_refused_before_connecting(
        self, local: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        resolving(monkeypatch, {"mixed.test": [["93.184.216.34", "64:ff9b::7f00:1"]]})
        with pytest.raises(FetchFailed, match="64:ff9b::7f00:1, which carries 127.0.0.1"):
            fetch.fetch("https://mixed.test/x", dataclasses.replace(local, allow_private_fetch=False))

    def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_reached(
        self, local: Settings, server: LocalHTTPS, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A rebinding name: its second answer points elsewhere (127.0.0.2, where nothing listens).
        asked = resolving(monkeypatch, {LOCAL_NAME: [["127.0.0.1"], ["127.0.0.2"]]})
        server.serve("/x", "checked")
        server.serve("/moved", "", 302, Location="/x")
        assert fetch.fetch(f"https://{LOCAL_NAME}:{server.port}/moved", local) == b"checked"
        assert asked == [LOCAL_NAME]
        assert server.requests == ["/moved", "/x"]


class TestFailures:
    def test_a_server_that_trickles_its_headers_is_cut_off_at_the_deadline(
        self, local: Settings, server: LocalHTTPS
    ) -> None:
        server.trickle("/slow", "x" * 20, every=0.3)  # about 20 s in all
        started = time.monotonic()
        with pytest.raises(FetchFailed, match="did not send the document within 1.5 seconds"):
            fetch.fetch(f"{server.origin}/slow", local)
        assert time.monotonic() - started < 1.5 + 1.0

    def test_refused_connection(self, local: Settings) -> None:
        port = free_port(range(8300, 8400))
        with pytest.raises(FetchFailed, match=f"127.0.0.1 refused the connection on port {port}"):
            fetch.fetch(f"https://127.0.0.1:{port}/x", local)

    def test_a_name_that_does_not_resolve(self, local: Settings) -> None:
        with pytest.raises(FetchFailed, match="proof-check.invalid does not resolve to an address"):
            fetch.fetch("https://proof-check.invalid/x", local)

    def test_too_many_redirects(self, local: Settings, server: LocalHTTPS) -> None:
        server.serve("/loop", "", 302, Location="/loop")
        with pytest.raises(FetchFailed, match="redirects more than 3 times"):
            fetch.fetch(f"{server.origin}/loop", local)
        assert server.requests == ["/loop"] * 4

    def test_a_server_that_speaks_no_tls(self, local: Settings) -> None:
        port = free_port(range(8300, 8400))
        with socket.create_server(("127.0.0.1", port)) as plain:

            def answer() -> None:
                connection, _ = plain.accept()
                with connection:
                    connection.sendall(b"HTTP/1.1 200 OK\r\n\r\nhello")

            threading.Thread(target=answer, daemon=True).start()
            with pytest.raises(FetchFailed, match="TLS handshake with 127.0.0.1 failed"):
                fetch.fetch(f"https://127.0.0.1:{port}/x", local)


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file of its own: the test needs real transactions, committed and concurrent."""
    url = f"sqlite:///{tmp_path / 'proofs.db'}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        session.commit()
    yield engine
    engine.dispose()


class TestNoLockWhileFetching:
    def test_other_writes_proceed_while_a_proof_check_waits_on_a_slow_server(
        self, file_engine: Engine, local: Settings, server: LocalHTTPS, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        resolving(monkeypatch, {LOCAL_NAME: [["127.0.0.1"]]})
        settings = dataclasses.replace(local, database_url=str(file_engine.url), fetch_timeout_seconds=4.0)
        db = Database(file_engine)
        with db.write() as session:
            provider = f.provider(session, identifiers=[])
            challenge = issue(session, claim(session, provider, "domain", LOCAL_NAME), settings)
        server.trickle(WELL_KNOWN, challenge.challenge, every=0.02)  # about 2 s
        outcome: list[object] = []

        def check() -> None:
            try:
                outcome.append(proofs.verify_proof(db, challenge.id or 0, actor=f.TEST, settings=settings))
            except Exception as error:  # noqa: BLE001 - reported below
                outcome.append(error)

        checking = threading.Thread(target=check)
        checking.start()
        time.sleep(0.5)
        assert server.requests == [WELL_KNOWN]  # the check is waiting on the server now
        started = time.monotonic()
        with db.write() as session:
            other = session.get(Provider, provider.id)
            assert other is not None
            other.website = "https://learn.test/"
            session.add(other)
        waited = time.monotonic() - started
        assert checking.is_alive(), "the write had to wait for the proof check"
        assert waited < 0.5
        checking.join(timeout=10)
        [proven] = outcome
        assert getattr(proven, "origin", proven) == "proven"
        with file_engine.connect() as connection:
            origin = connection.execute(
                text("SELECT origin FROM provider_identifier WHERE value = :v"), {"v": LOCAL_NAME}
            )
            assert origin.scalar_one() == "proven"


class TestMessagesOnTheProof:
    def test_each_network_failure_is_a_validation_message(
        self, file_engine: Engine, local: Settings, server: LocalHTTPS
    ) -> None:
        db = Database(file_engine)
        settings = dataclasses.replace(local, database_url=str(file_engine.url))
        with db.write() as session:
            provider = f.provider(session, identifiers=[])
            challenge = issue(session, claim(session, provider, "url", f"{server.origin}/issuer"), settings)
        server.trickle(WELL_KNOWN, challenge.challenge, every=0.5)
        with pytest.raises(ValidationFailed, match="did not send the document within") as refused:
            proofs.verify_proof(db, challenge.id or 0, actor=f.TEST, settings=settings)
        assert set(refused.value.errors) == {"proof"}
