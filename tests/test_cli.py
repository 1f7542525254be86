"""The commands a new user runs, as separate processes against a fresh database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, _postgres_admin_url, free_port

REGISTRY = str(Path(sys.executable).with_name("registry"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    if _postgres_admin_url() is None:
        pytest.skip("PostgreSQL is not reachable")
    name = f"registry_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGISTRY, *args], env=env, capture_output=True, text=True, timeout=120)


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_VAR_DIR": str(tmp_path / "var"),
        "REGISTRY_SECRET_KEY": "cli-test-secret",
    }


class TestCommands:
    def test_upgrade_check_reference_and_demo_from_an_empty_database(
        self, empty_database_url: str, tmp_path: Path
    ) -> None:
        env = _env(empty_database_url, tmp_path)
        upgrade = _run(env, "db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        check = _run(env, "db", "check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "models and migrations agree" in check.stdout
        reference = _run(env, "reference", "load")
        assert "245 countries added, 24 standards added, 46 agencies added" in reference.stdout
        assert "0 countries added" in _run(env, "reference", "load").stdout
        demo = _run(env, "demo", "load")
        assert demo.returncode == 0, demo.stderr
        assert "40 providers" in demo.stdout
        assert "operator@registry.example" in demo.stdout
        assert "demo data already loaded" in _run(env, "demo", "load").stdout
        user = _run(
            env,
            "users",
            "create",
            "--email",
            "new@agency.example",
            "--name",
            "New Operator",
            "--role",
            "operator",
            "--password",
            "a-long-password",
        )
        assert user.returncode == 0, user.stderr
        duplicate = _run(
            env,
            "users",
            "create",
            "--email",
            "new@agency.example",
            "--name",
            "Again",
            "--role",
            "operator",
            "--password",
            "a-long-password",
        )
        assert duplicate.returncode != 0
        assert "already an account" in duplicate.stderr
        rotated = _run(env, "keys", "rotate")
        assert rotated.returncode == 0 and "new verdict signing key" in rotated.stdout
        federation = _run(env, "keys", "rotate", "--purpose", "federation")
        assert federation.returncode == 0 and "new federation signing key" in federation.stdout

    def test_serve_refuses_an_unmigrated_database(self, tmp_path: Path) -> None:
        env = _env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
        served = _run(env, "serve", "--port", "8059")
        assert served.returncode != 0
        assert "registry db upgrade" in served.stderr


def test_setup_then_serve_is_ready_with_demo_data(tmp_path: Path) -> None:
    """What `make serve` does, on the embedded default."""
    env = {**os.environ, "REGISTRY_VAR_DIR": str(tmp_path / "var"), "REGISTRY_PORT": "8058"}
    env.pop("REGISTRY_DATABASE_URL", None)
    env.pop("REGISTRY_SECRET_KEY", None)
    setup = _run(env, "setup")
    assert setup.returncode == 0, setup.stderr
    assert (tmp_path / "var" / "registry.db").exists()
    assert (tmp_path / "var" / "secret_key").exists()
    server = subprocess.Popen([REGISTRY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = None
        for _ in range(100):
            try:
                ready = httpx.get("http://127.0.0.1:8058/readyz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ready is not None and ready.status_code == 200
        verdict = httpx.get(
            "http://127.0.0.1:8058/api/v1/trust", params={"identifier": "did:web:northbridge.example"}
        ).json()
        assert verdict["status"] == "trusted"
        assert httpx.get("http://127.0.0.1:8058/schema/openapi.json").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


# `registry serve --workers N` as it runs in production: real worker processes, exactly one runs the jobs.
STARTED = re.compile(r"\[pid (\d+)\] registry\.leader: scheduler started")
SWEPT = re.compile(r"\[pid (\d+)\] registry\.deadlines\.jobs: deadline sweep")


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _wait_for(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_three_workers_run_the_jobs_in_one_process_and_another_takes_over_when_it_dies(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = {
        **_env(empty_database_url, tmp_path),
        # A sweep every 0.6 s, a standby retrying every 0.5 s: the test sees many rounds quickly.
        "REGISTRY_SWEEP_INTERVAL_MINUTES": "0.01",
        "REGISTRY_SCHEDULER_TAKEOVER_SECONDS": "0.5",
    }
    env.pop("REGISTRY_SCHEDULER_IN_PROCESS", None)
    env.pop("REGISTRY_WORKERS", None)
    setup = _run(env, "setup")
    assert setup.returncode == 0, setup.stderr
    port = free_port(range(8760, 8800))
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [REGISTRY, "serve", "--workers", "3", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )

    def text() -> str:
        return log_path.read_text(errors="replace")

    def ready() -> bool:
        assert server.poll() is None, text()
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait_for("the server", ready)
        _wait_for("three sweeps", lambda: len(SWEPT.findall(text())) >= 3)
        workers = _children(server.pid)
        assert len(workers) >= 3, workers
        started = STARTED.findall(text())
        assert len(started) == 1, text()
        leader = int(started[0])
        assert leader in workers
        assert {int(pid) for pid in SWEPT.findall(text())} == {leader}

        # The leader dies without a word: a surviving (or respawned) worker takes the lock and the jobs over.
        os.kill(leader, signal.SIGKILL)
        _wait_for("a new leader", lambda: len(STARTED.findall(text())) == 2)
        successor = int(STARTED.findall(text())[1])
        assert successor != leader
        after = len(text())
        _wait_for("three more sweeps", lambda: len(SWEPT.findall(text()[after:])) >= 3)
        assert {int(pid) for pid in SWEPT.findall(text()[after:])} == {successor}
        assert len(STARTED.findall(text())) == 2, text()
        verdict = httpx.get(f"{base}/api/v1/trust", params={"identifier": "did:web:northbridge.example"}, timeout=5)
        assert verdict.status_code == 200 and verdict.json()["status"] == "trusted"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    # Shut down in order: the leader stopped its scheduler and let the lock go.
    assert "scheduler stopped" in text()


def test_a_separate_scheduler_stands_by_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    from registry.leader import FileLock, lock_path

    database = tmp_path / "registry.db"
    env = {**_env(f"sqlite:///{database}", tmp_path), "REGISTRY_SCHEDULER_TAKEOVER_SECONDS": "0.3"}
    assert _run(env, "db", "upgrade").returncode == 0
    held = FileLock(lock_path(str(database)))
    assert held.try_acquire()
    log_path = tmp_path / "scheduler.log"
    with log_path.open("wb") as log:
        scheduler = subprocess.Popen([REGISTRY, "scheduler"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for("the scheduler to start", lambda: "scheduler: sweep and delivery" in log_path.read_text())
            time.sleep(2)
            assert scheduler.poll() is None
            assert "scheduler started" not in log_path.read_text()
            held.release()
            _wait_for("the takeover", lambda: "scheduler started" in log_path.read_text(), 20)
        finally:
            scheduler.send_signal(signal.SIGTERM)
            scheduler.wait(timeout=20)
            held.release()
    assert "scheduler stopped" in log_path.read_text()
