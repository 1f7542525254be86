"""A source registry of its own (a fresh database, `registry serve` with two workers) that tests write to and mirror."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.conftest import _migrated_engine, free_port


@dataclass
class Source:
    url: str
    database_url: str
    engine: Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, migrated, that the test may commit to."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.db'}"
        return
    admin = str(request.getfixturevalue("postgres_url"))
    name = f"registry_source_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def source(fresh_database: str, tmp_path: Path) -> Iterator[Source]:
    engine = _migrated_engine(fresh_database)
    # A range of its own: live servers of other test modules take 8300-8399.
    port = free_port(range(8640, 8700))
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "REGISTRY_VAR_DIR": str(tmp_path / "var"),
        "REGISTRY_DATABASE_URL": fresh_database,
        "REGISTRY_BASE_URL": url,
        "REGISTRY_SECRET_KEY": "mirror-test-secret",
    }
    log = open(tmp_path / "source.log", "wb")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("registry")), "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200 and server.poll() is None:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "source.log").read_text())
            time.sleep(0.2)
        yield Source(url, fresh_database, engine)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        engine.dispose()
