"""The mirror signs verdicts with its own key, publishes it, and says plainly when it has none."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner
from joserfc import jws
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.cli import main
from registry.mirror import keys, store
from registry.mirror import sync as mirror_sync
from registry.mirror.app import create_mirror_app
from registry.providers.models import Provider, ProviderIdentifier
from registry.providers.services import update_provider
from registry.trust.signing import ensure_key
from tests import factories as f

MIRROR = "http://mirror.test"
CLAIMS = ("iss", "sub", "iat", "exp")


@pytest.fixture
def mirrored(client: TestClient, session: Session, tmp_path: Path) -> tuple[Path, str]:
    """A mirror synced from the in-process registry (its test client is the mirror's HTTP client)."""
    ensure_key(session)
    agency = f.agency(session)
    provider = f.provider(session, name="Signed Verdict University")
    f.result(session, agency, [provider], valid_from="2020-01-01", valid_to="2035-12-31")
    session.commit()
    path = tmp_path / "mirror.db"
    mirror_sync.sync(store.open_store(path), "http://registry.test", client=client)
    return path, f.did(provider, session)


def _key_file(tmp_path: Path) -> Path:
    path = tmp_path / "mirror-key.json"
    made = CliRunner().invoke(main, ["mirror", "keys", "--out", str(path)])
    assert made.exit_code == 0, made.output
    assert "kid" in made.output
    return path


class TestSignedVerdicts:
    def test_the_signed_verdict_verifies_with_the_mirrors_keys_and_equals_the_plain_one(
        self, client: TestClient, mirrored: tuple[Path, str], tmp_path: Path
    ) -> None:
        path, did = mirrored
        key = keys.load(_key_file(tmp_path))
        params = {"identifier": did, "at": "2024-05-05"}
        with TestClient(create_mirror_app(path, MIRROR, key)) as mirror:
            plain = mirror.get("/api/v1/trust", params=params)
            signed = mirror.get("/api/v1/trust", params=params, headers={"Accept": "application/jwt"})
            published = mirror.get("/.well-known/jwks.json")
        assert plain.status_code == signed.status_code == published.status_code == 200
        assert signed.headers["content-type"] == "application/jwt" and "Accept" in signed.headers["vary"]
        assert published.json()["keys"][0]["kid"] == key.kid and "d" not in published.json()["keys"][0]
        verified = jws.deserialize_compact(signed.text, KeySet.import_key_set(published.json()), algorithms=["ES256"])
        assert verified.protected["typ"] == "trust-verdict+jwt" and verified.protected["kid"] == key.kid
        claims: dict[str, Any] = msgspec.json.decode(verified.payload)
        assert claims["iss"] == MIRROR and claims["sub"] == did and claims["exp"] > claims["iat"]
        verdict = {name: value for name, value in claims.items() if name not in CLAIMS}
        assert {**verdict, "evaluated_at": None} == {**plain.json(), "evaluated_at": None}
        assert verdict["status"] == "trusted" and verdict["mirror"]["source"] == "http://registry.test"
        # The registry's own keys do not verify the mirror's signature: it never signs as the registry.
        registry_keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
        with pytest.raises((BadSignatureError, InvalidKeyIdError)):
            jws.deserialize_compact(signed.text, registry_keys, algorithms=["ES256"])

    def test_without_a_key_the_mirror_says_it_cannot_sign(self, mirrored: tuple[Path, str]) -> None:
        path, did = mirrored
        with TestClient(create_mirror_app(path, MIRROR)) as mirror:
            refused = mirror.get("/api/v1/trust", params={"identifier": did}, headers={"Accept": "application/jwt"})
            no_keys = mirror.get("/.well-known/jwks.json")
            plain = mirror.get("/api/v1/trust", params={"identifier": did})
        assert refused.status_code == 406
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "registry mirror keys" in refused.json()["detail"]
        assert no_keys.status_code == 404 and no_keys.headers["content-type"].startswith("application/problem+json")
        assert plain.status_code == 200 and plain.json()["status"] == "trusted"

    def test_a_lookup_sees_the_next_sync_at_once(
        self, client: TestClient, session: Session, mirrored: tuple[Path, str]
    ) -> None:
        path, did = mirrored
        with TestClient(create_mirror_app(path, MIRROR)) as mirror:
            before = mirror.get("/api/v1/trust", params={"identifier": did}).json()
            held = session.exec(select(ProviderIdentifier).where(ProviderIdentifier.normalised == did)).one()
            provider = session.get(Provider, held.provider_id)
            assert provider is not None
            update_provider(session, provider, {"name": "Renamed In The Registry"}, f.TEST, provider.version)
            session.commit()
            mirror_sync.sync(store.open_store(path), "http://registry.test", client=client)
            after = mirror.get("/api/v1/trust", params={"identifier": did}).json()
        assert after["provider"]["name"] == "Renamed In The Registry"
        assert after["mirror"]["position"] > before["mirror"]["position"]


class TestKeyFiles:
    def test_a_key_file_is_private_and_never_silently_replaced(self, tmp_path: Path) -> None:
        path = _key_file(tmp_path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        first = keys.load(path).kid
        again = CliRunner().invoke(main, ["mirror", "keys", "--out", str(path)])
        assert again.exit_code != 0 and "exists" in again.output and keys.load(path).kid == first
        forced = CliRunner().invoke(main, ["mirror", "keys", "--out", str(path), "--force"])
        assert forced.exit_code == 0 and keys.load(path).kid != first

    @pytest.mark.parametrize("content", ["", "not json", '{"kty": "oct", "k": "c2VjcmV0"}', '{"kty": "EC"}'])
    def test_a_file_that_is_no_key_is_refused_with_a_message(self, tmp_path: Path, content: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(keys.KeyFileError, match="registry mirror keys"):
            keys.load(path)
        database = tmp_path / "m.db"
        store.open_store(database)
        served = CliRunner().invoke(main, ["mirror", "serve", "--db", str(database), "--key-file", str(path)])
        assert served.exit_code != 0 and "registry mirror keys" in served.output

    def test_a_public_key_alone_is_refused(self, tmp_path: Path) -> None:
        made = keys.generate(tmp_path / "k.json")
        path = tmp_path / "public.json"
        path.write_text(msgspec.json.encode(made.public_jwk).decode())
        with pytest.raises(keys.KeyFileError, match="private"):
            keys.load(path)


class TestServedMirror:
    def test_registry_mirror_serve_answers_plain_and_signed_verdicts_over_http(
        self, mirrored: tuple[Path, str], tmp_path: Path
    ) -> None:
        path, did = mirrored
        key = _key_file(tmp_path)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [str(Path(sys.executable).with_name("registry")), "mirror", "serve", "--db", str(path)]
        command += ["--port", str(port), "--key-file", str(key)]
        log = (tmp_path / "mirror.log").open("w")
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "mirror.log").read_text()
                time.sleep(0.2)
            params = {"identifier": did, "at": "2024-05-05"}
            plain = httpx.get(f"{base}/api/v1/trust", params=params)
            signed = httpx.get(f"{base}/api/v1/trust", params=params, headers={"Accept": "application/jwt"})
            published = httpx.get(f"{base}/.well-known/jwks.json").json()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            log.close()
        assert plain.status_code == 200 and plain.json()["status"] == "trusted"
        verified = jws.deserialize_compact(signed.text, KeySet.import_key_set(published), algorithms=["ES256"])
        claims: dict[str, Any] = msgspec.json.decode(verified.payload)
        assert claims["iss"] == base and claims["sub"] == did and claims["status"] == "trusted"
        assert verified.protected["kid"] == keys.load(key).kid
