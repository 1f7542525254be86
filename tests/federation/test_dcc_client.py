"""The Digital Credentials Consortium's issuer registry client (npm) against a live registry with the demo data.

The client is configured as a verifier configures it, {type: 'oidf', trustAnchorEC: <base>/.well-known/
openid-federation}. Skips where node is missing, except under REGISTRY_TEST_REQUIRE_ALL=1, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from registry.audit.services import Actor
from registry.db import create_db_engine
from registry.demo.services import CASES, FILLER
from registry.providers.models import Provider, ProviderIdentifier
from registry.providers.services import suspend
from registry.qa.models import QAResult, QAResultProvider
from registry.qa.services import revoke_result
from registry.timeutil import today
from tests.conftest import free_port

CLIENT_DIR = Path(__file__).resolve().parent.parent / "federation_client"
REQUIRE_ALL = os.environ.get("REGISTRY_TEST_REQUIRE_ALL") == "1"
TRUSTED = ("trusted", "trusted_with_conditions")


@dataclass
class LiveRegistry:
    base_url: str
    database_url: str


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if REQUIRE_ALL:
            pytest.fail("the DCC registry client test is required here but node/npm are missing")
        pytest.skip("node is missing")
    if not (CLIENT_DIR / "node_modules" / "@digitalcredentials" / "issuer-registry-client").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT_DIR, check=True, capture_output=True)
    return node


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """`registry setup` (migrations, reference and demo data, keys) and `registry serve` on a free port."""
    var_dir = tmp_path_factory.mktemp("federation-live")
    port = free_port(range(8300, 8400))
    base_url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{var_dir / 'registry.db'}"
    env = {
        **os.environ,
        "REGISTRY_VAR_DIR": str(var_dir),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_BASE_URL": base_url,
        "REGISTRY_SCHEDULER_IN_PROCESS": "false",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "registry"), "setup"], env=env, check=True, capture_output=True)
    log_path = var_dir / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(bin_dir / "registry"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_path.read_text())
                time.sleep(0.2)
            yield LiveRegistry(base_url, database_url)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _lookup(node: str, registry: LiveRegistry, dids: list[str]) -> dict[str, Any]:
    anchor = f"{registry.base_url}/.well-known/openid-federation"
    done = subprocess.run(
        [node, "lookup.mjs", anchor, *dids], cwd=CLIENT_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), done.stdout
    results: dict[str, Any] = json.loads(last.removeprefix("RESULT "))
    return results


def _demo_dids() -> dict[str, str]:
    """Every demo DID and the name it is known by."""
    names = {f"did:web:{case.slug}.example": case.name for case in CASES}
    names |= {f"did:web:{slug}.example": name for slug, name, _country, _type in FILLER}
    return names


def _verdicts(registry: LiveRegistry, dids: list[str]) -> dict[str, str]:
    return {
        did: httpx.get(f"{registry.base_url}/api/v1/trust", params={"identifier": did}).json()["status"] for did in dids
    }


def _provider_id(session: Session, did: str) -> int:
    return session.exec(select(ProviderIdentifier.provider_id).where(ProviderIdentifier.value == did)).one()


class TestDccRegistryClient:
    def test_finds_exactly_the_trusted_demo_issuers(self, node: str, registry: LiveRegistry) -> None:
        names = _demo_dids()
        dids = sorted(names)
        verdicts = _verdicts(registry, dids)
        # The demo data holds both kinds, so the test can tell found from not found.
        assert {"trusted", "trusted_with_conditions", "suspended", "expired", "closed"} <= set(verdicts.values())
        results = _lookup(node, registry, [*dids, "did:web:nowhere.example"])
        for did in [*dids, "did:web:nowhere.example"]:
            answer = results[did]
            assert answer["uncheckedRegistries"] == [], (did, answer)
            if verdicts.get(did) in TRUSTED:
                [match] = answer["matchingIssuers"]
                assert match["issuer"]["federation_entity"]["organization_name"] == names[did]
                assert match["issuer"]["esg_quality_assurance"]["status"] == verdicts[did]
                registry_entity = match["registry"]["federation_entity"]
                assert registry_entity["organization_name"] == "Provider QA Registry"
            else:
                assert answer["matchingIssuers"] == [], (did, verdicts.get(did))

    def test_a_verdict_change_changes_the_answer_at_once(self, node: str, registry: LiveRegistry) -> None:
        revoked, suspended = "did:web:northbridge.example", "did:web:meridian.example"
        before = _lookup(node, registry, [revoked, suspended])
        assert all(len(before[did]["matchingIssuers"]) == 1 for did in (revoked, suspended))
        engine = create_db_engine(registry.database_url)
        try:
            with Session(engine) as session:
                result = session.exec(
                    select(QAResult)
                    .join(QAResultProvider, col(QAResultProvider.result_id) == QAResult.id)
                    .where(QAResultProvider.provider_id == _provider_id(session, revoked))
                ).one()
                revoke_result(session, result, revoked_from=today(), actor=Actor("test"))
                provider = session.get(Provider, _provider_id(session, suspended))
                assert provider is not None
                suspend(
                    session, provider, suspended_from=today(), suspended_to=None, reason="Test", actor=Actor("test")
                )
                session.commit()
        finally:
            engine.dispose()
        after = _lookup(node, registry, [revoked, suspended])
        for did in (revoked, suspended):
            assert after[did] == {"matchingIssuers": [], "uncheckedRegistries": []}, did
