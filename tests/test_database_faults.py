"""PostgreSQL failing under a live server: no verdict, a 503 with Retry-After in time, /healthz answering.

The registry runs as in production (`registry serve`, one worker) and reaches PostgreSQL through a TCP proxy
that the test controls, so it can refuse connections or stop accepting them; another connection holds
a table lock. A lookup that waited on the event loop would freeze the whole worker, /healthz included:
only a real server shows that.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from litestar.testing import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry.app import create_app
from registry.db import create_db_engine, service_timeouts
from registry.settings import Settings
from tests.conftest import PASSWORD, _migrated_engine, _postgres_admin_url, free_port
from tests.factories import build_world

STATEMENT_TIMEOUT, LOCK_TIMEOUT, CONNECT_TIMEOUT = 3, 2, 2
TRUSTED = "did:web:alpha-test.example"
# /healthz answers in milliseconds (a few hundred on a loaded test machine); a worker frozen by the
# lookups would answer only after them, at least one 2 s timeout later.
RESPONSIVE = 1.5


class PostgresProxy:
    """Forwards 127.0.0.1:port to PostgreSQL; `refuse()` closes the port, `stall()` stops accepting."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port(range(8300, 8400))
        self.mode = "open"
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listen()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if self.mode != "open" or listener is None:
                time.sleep(0.05)
                continue
            ready, _, _ = select.select([listener], [], [], 0.05)
            if not ready or self.mode != "open":
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            server = socket.create_connection(self.target)
            with self._lock:
                self._connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _cut(self) -> None:
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def refuse(self) -> None:
        """Connections are refused: PostgreSQL is down."""
        self.mode = "refusing"
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._cut()

    def stall(self) -> None:
        """Connections are made but never answered: a host that has gone silent."""
        if self._listener is None:
            self._listen()
        self.mode = "stalled"
        self._cut()

    def restore(self) -> None:
        if self._listener is None:
            self._listen()
        self.mode = "open"

    def close(self) -> None:
        self._stop.set()
        self.refuse()


@pytest.fixture
def fault_database(password_hash: str) -> Iterator[str]:
    """A PostgreSQL database of its own with one trusted provider, dropped afterwards."""
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable (set REGISTRY_TEST_POSTGRES_URL)")
    name = f"registry_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    engine = _migrated_engine(url)
    with Session(engine) as session:
        build_world(session, password_hash)
        session.commit()
    engine.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def proxy(fault_database: str) -> Iterator[PostgresProxy]:
    parsed = make_url(fault_database)
    proxy = PostgresProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def live_registry(fault_database: str, proxy: PostgresProxy, tmp_path: Path) -> Iterator[str]:
    port = free_port(range(8300, 8400))
    through_proxy = make_url(fault_database).set(host="127.0.0.1", port=proxy.port)
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": through_proxy.render_as_string(hide_password=False),
        "REGISTRY_SECRET_KEY": "fault-test-secret",
        "REGISTRY_VAR_DIR": str(tmp_path),
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}",
        "REGISTRY_DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "REGISTRY_DATABASE_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        "REGISTRY_DATABASE_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    }
    command = [str(Path(sys.executable).with_name("registry")), "serve", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the registry did not start"
            assert time.monotonic() < deadline, "the registry did not answer /healthz within 30 s"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()  # a worker stuck on the database does not stop when asked
            server.wait(10)


def _lookup(base: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(f"{base}/api/v1/trust", params={"identifier": TRUSTED}, timeout=30)
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response, seconds: float, within: float) -> None:
    assert response.status_code == 503, response.text[:300]
    assert seconds < within, f"answered after {seconds:.1f} s, more than {within} s"
    assert response.headers["retry-after"].isdigit()
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert "trusted" not in body and "basis" not in body, "a verdict given without the database"


def _healthz_while(base: str, pending: list[Any]) -> list[float]:
    """How long /healthz takes while the lookups are pending."""
    times = []
    while not all(future.done() for future in pending):
        started = time.monotonic()
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        times.append(time.monotonic() - started)
        time.sleep(0.1)
    return times


def _trusted(base: str) -> None:
    response, _ = _lookup(base)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["status"] == "trusted"


def test_the_trust_api_fails_closed_in_time_and_recovers(
    live_registry: str, proxy: PostgresProxy, fault_database: str
) -> None:
    base = live_registry
    _trusted(base)

    # PostgreSQL refuses connections.
    proxy.refuse()
    _assert_unavailable(*_lookup(base), within=CONNECT_TIMEOUT + 2)
    proxy.restore()
    _trusted(base)

    # PostgreSQL accepts connections but never answers: the connect timeout ends the wait.
    proxy.stall()
    with ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(_lookup, base) for _ in range(4)]
        health = _healthz_while(base, pending)
        for future in pending:
            _assert_unavailable(*future.result(), within=CONNECT_TIMEOUT + 3)
    assert health and max(health) < RESPONSIVE, f"/healthz took up to {max(health):.2f} s during the fault"
    proxy.restore()
    _trusted(base)

    # Another connection holds an exclusive lock on the identifiers: the lock timeout ends the wait.
    with psycopg.connect(fault_database) as locker:
        found = locker.execute(
            "SELECT provider_id FROM provider_identifier WHERE normalised = %s", [TRUSTED]
        ).fetchone()
        assert found is not None
        locker.commit()
        locker.execute("LOCK TABLE provider_identifier IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(4) as pool:
            pending = [pool.submit(_lookup, base) for _ in range(4)]
            health = _healthz_while(base, pending)
            for future in pending:
                _assert_unavailable(*future.result(), within=LOCK_TIMEOUT + 3)
        assert health and max(health) < RESPONSIVE, f"/healthz took up to {max(health):.2f} s during the lock"
        # A page says so in words.
        page = httpx.get(f"{base}/providers/{found[0]}", headers={"accept": "text/html"}, timeout=30)
        assert page.status_code == 503 and page.headers["retry-after"].isdigit()
        assert "<h1>Unavailable</h1>" in page.text and "did not answer in time" in page.text
        locker.rollback()
    _trusted(base)


def test_a_read_only_postgresql_is_not_ready_and_refuses_writes_with_503(fault_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fault_database, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{make_url(fault_database).database}" SET default_transaction_read_only = on')
    settings = Settings(
        var_dir=tmp_path, database_url=fault_database, secret_key="fault-test-secret", base_url="http://registry.test"
    )
    with TestClient(create_app(settings), base_url="http://registry.test") as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "read-only" in ready.json()["detail"]
        assert client.get("/api/v1/trust", params={"identifier": TRUSTED}).json()["status"] == "trusted"
        client.get("/signin", headers={"accept": "text/html"})
        signed_in = client.post(
            "/signin",
            data={
                "email": "operator@test.example",
                "password": PASSWORD,
                "_csrf_token": client.cookies["registry_csrf"],
            },
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 503 and signed_in.headers["retry-after"].isdigit()
        assert "database is read-only" in signed_in.text


def test_the_timeouts_reach_every_connection(fault_database: str, tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'timeouts.db'}"
    for url in (fault_database, sqlite_url):
        settings = Settings(
            var_dir=tmp_path,
            database_url=url,
            database_statement_timeout=STATEMENT_TIMEOUT,
            database_lock_timeout=LOCK_TIMEOUT,
            database_connect_timeout=CONNECT_TIMEOUT,
        )
        engine = create_db_engine(url, service_timeouts(settings))
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == f"{STATEMENT_TIMEOUT}s"
                assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == f"{LOCK_TIMEOUT}s"
            else:
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == LOCK_TIMEOUT * 1000
        engine.dispose()
