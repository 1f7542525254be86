"""A real registry (`registry serve`, a fresh migrated SQLite database with the demo data) and a real browser.

Browser tests skip where /usr/bin/chromium is missing, except under REGISTRY_TEST_REQUIRE_ALL=1 (CI),
where they fail. Playwright drives Debian's Chromium; it never downloads a browser of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_ALL = os.environ.get("REGISTRY_TEST_REQUIRE_ALL") == "1"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        if REQUIRE_ALL:
            pytest.fail(f"browser tests are required here but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    return CHROMIUM


def _started(server: subprocess.Popen[bytes], base_url: str, log: Path) -> bool:
    deadline = time.monotonic() + 30
    while server.poll() is None and time.monotonic() < deadline:
        try:
            if (
                f"Listening at: {base_url}" in log.read_text()
                and httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
            ):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if server.poll() is None:
        server.terminate()
    return False


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[str]:
    var_dir: Path = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "REGISTRY_VAR_DIR": str(var_dir),
        "REGISTRY_DATABASE_URL": f"sqlite:///{var_dir / 'registry.db'}",
        "REGISTRY_LOGIN_ATTEMPTS_PER_ACCOUNT": "3",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "registry"), "setup"], env=env, check=True, capture_output=True)
    log = open(var_dir / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
    # Another process may take the free port before the server binds it (and answer /readyz itself):
    # the server counts as started only once its own log says it listens.
    for _ in range(5):
        port = free_port(range(8300, 8400))
        base_url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(bin_dir / "registry"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env={**env, "REGISTRY_BASE_URL": base_url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if _started(server, base_url, var_dir / "server.log"):
            break
        server.wait(timeout=10)
    else:
        raise RuntimeError((var_dir / "server.log").read_text())
    try:
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser(chromium_path: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10000)
    yield page
    context.close()
