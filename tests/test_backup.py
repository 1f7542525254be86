"""Backup and restore: a registry with demo data, backed up under concurrent writes, restored into an empty one."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from registry import documents
from registry.backup import BackupError, backup, restore
from registry.db import create_db_engine, session_scope
from registry.demo.services import CASES, load_demo
from registry.models import metadata
from registry.providers.services import ProviderInput, create_provider
from registry.qa.models import QAReportFile, QAResult
from registry.qa.services import REPORT_AREA, attach_report_file
from registry.settings import Settings
from registry.trust import services as trust
from registry.trust.signing import ensure_key
from tests.conftest import POSTGRES_URL, _migrated_engine, _postgres_admin_url
from tests.factories import SETUP, pdf_document

REGISTRY = str(Path(sys.executable).with_name("registry"))


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes empty databases of one kind, dropped afterwards."""
    created: list[str] = []

    def make(name: str) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        if _postgres_admin_url() is None:
            pytest.skip("PostgreSQL is not reachable")
        database = f"registry_backup_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        created.append(database)
        return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)

    yield make
    if created:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            for database in created:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _settings(url: str, var_dir: Path) -> Settings:
    return Settings(var_dir=var_dir, database_url=url, secret_key="backup-test", base_url="http://registry.test")


def _demo_registry(url: str, var_dir: Path) -> tuple[Settings, Engine]:
    settings = _settings(url, var_dir)
    engine = _migrated_engine(url)
    with session_scope(engine) as session:
        load_demo(session)
        ensure_key(session)
        results = session.exec(select(QAResult).where(QAResult.withdrawn_at.is_(None))).scalars().all()  # type: ignore[call-overload,union-attr]
        for number, result in enumerate(results[:3]):
            attach_report_file(
                session,
                result,
                filename=f"report-{number}.pdf",
                content=pdf_document(2000 + number),
                settings=settings,
                actor=SETUP,
            )
    return settings, engine


def _rows(engine: Engine) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table, by primary key."""
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            key = [column.name for column in table.primary_key.columns]
            rows[table.name] = {
                tuple(row._mapping[name] for name in key): dict(row._mapping)
                for row in connection.execute(select(table)).all()
            }
    return rows


def _files(var_dir: Path) -> dict[str, bytes]:
    found = {}
    for area in ("evidence", "reports"):
        for file in (var_dir / area).rglob("*") if (var_dir / area).is_dir() else []:
            if file.is_file():
                found[file.relative_to(var_dir).as_posix()] = file.read_bytes()
    return found


def _verdicts(engine: Engine, settings: Settings, identifiers: list[str]) -> dict[str, Any]:
    # The demo's dates are relative to today, so its variety of verdicts is today's.
    now = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(12), dt.UTC)
    with engine.connect() as connection:
        return {
            identifier: trust.verdict(connection, trust.parse_query({"identifier": identifier}, now), settings, now)
            for identifier in identifiers
        }


class ConcurrentWriter(threading.Thread):
    """Keeps adding providers, each in its own unit of work, until stopped."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.committed = 0
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        while not self.stop.is_set():
            number = self.committed
            try:
                with session_scope(self.engine) as session:
                    create_provider(
                        session,
                        ProviderInput(
                            name=f"Concurrent Academy {number}",
                            country="NL",
                            provider_type="VET provider",
                            identifiers=[{"scheme": "did", "value": f"did:web:concurrent-{number}.example"}],
                        ),
                        SETUP,
                    )
            except BaseException as error:  # noqa: BLE001 - reported to the test
                self.errors.append(error)
                return
            self.committed += 1


def test_a_backup_under_writes_restores_every_row_file_and_verdict(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    source, source_engine = _demo_registry(new_database("source"), tmp_path / "source-var")
    before = _rows(source_engine)
    files_before = _files(source.var_dir)
    assert len([name for name in files_before if name.startswith(f"{REPORT_AREA}/")]) == 3

    writer = ConcurrentWriter(source_engine)
    writer.start()
    while writer.committed < 3 and writer.is_alive():
        threading.Event().wait(0.01)
    started_at = writer.committed
    outcome = backup(source, tmp_path / "backup")
    finished_at = writer.committed
    # The writer was busy before the backup began and is still writing after it ended.
    while writer.committed < finished_at + 2 and writer.is_alive():
        threading.Event().wait(0.01)
    writer.stop.set()
    writer.join(30)
    assert writer.errors == []

    target = _settings(new_database("target"), tmp_path / "target-var")
    restored = restore(target, outcome.path)
    assert (restored.revision, restored.files) == (outcome.revision, 3)
    target_engine = create_db_engine(target.database_url)
    after = _rows(source_engine)
    copy = _rows(target_engine)

    for name, rows in copy.items():
        # Every row that was there before the backup began is back, value for value (the rows the
        # concurrent writes updated, such as the feed counter, as of the copy's moment)...
        for key, row in before[name].items():
            if after[name].get(key) == row:
                assert rows.get(key) == row, f"{name} {key} differs after restore"
            else:
                assert key in rows, f"{name} {key} is missing after restore"
        # ...and nothing that the registry did not hold.
        for key, row in rows.items():
            assert key in after[name], f"{name} {key} was not in the registry"
            if key not in before[name] or before[name][key] == after[name][key]:
                assert after[name][key] == row, f"{name} {key} was not in the registry"
    # The concurrent writes come back whole, as of one moment: the first k of them, each complete.
    names = {row["name"] for row in copy["provider_name"].values() if row["name"].startswith("Concurrent Academy")}
    restored_writes = len(names)
    assert started_at <= restored_writes <= finished_at + 1
    assert names == {f"Concurrent Academy {n}" for n in range(restored_writes)}
    # The feed counter is as of the same moment as the trust list it numbers.
    (counter,) = copy["trust_feed_counter"].values()
    assert counter["position"] == max(row["position"] for row in copy["trust_list_entry"].values())
    concurrent = {r["normalised"] for r in copy["provider_identifier"].values() if "concurrent-" in r["normalised"]}
    assert len(concurrent) == restored_writes

    # Every document, byte for byte, and every document the restored database names.
    assert _files(target.var_dir) == _files(source.var_dir)
    with Session(target_engine) as session:
        for report in session.exec(select(QAReportFile)).scalars():  # type: ignore[call-overload]
            assert documents.read(target, REPORT_AREA, report.sha256)

    identifiers = [f"did:web:{case.slug}.example" for case in CASES]
    identifiers += [f"did:web:concurrent-{n}.example" for n in range(restored_writes)]
    assert _verdicts(target_engine, target, identifiers) == _verdicts(source_engine, source, identifiers)
    assert {v["status"] for v in _verdicts(target_engine, target, identifiers).values()} >= {
        "trusted",
        "closed",
        "expired",
        "suspended",
    }
    source_engine.dispose()
    target_engine.dispose()


@pytest.fixture
def sqlite_backup(tmp_path: Path) -> tuple[Settings, Path]:
    source, engine = _demo_registry(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "source-var")
    engine.dispose()
    return source, backup(source, tmp_path / "backup").path


def _empty_target(tmp_path: Path) -> Settings:
    return _settings(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "target-var")


class TestRefusals:
    def test_a_damaged_database_copy(self, sqlite_backup: tuple[Settings, Path], tmp_path: Path) -> None:
        _, path = sqlite_backup
        database = path / "database.sqlite"
        data = bytearray(database.read_bytes())
        data[len(data) // 2] ^= 0xFF
        database.write_bytes(bytes(data))
        with pytest.raises(BackupError, match="database.sqlite does not match its checksum"):
            restore(_empty_target(tmp_path), path)
        assert not (tmp_path / "target.db").exists() or (tmp_path / "target.db").stat().st_size == 0

    def test_a_missing_document(self, sqlite_backup: tuple[Settings, Path], tmp_path: Path) -> None:
        _, path = sqlite_backup
        victim = next(file for file in (path / "files").rglob("*") if file.is_file())
        victim.unlink()
        with pytest.raises(BackupError, match="is missing"):
            restore(_empty_target(tmp_path), path)

    def test_another_schema_revision(self, sqlite_backup: tuple[Settings, Path], tmp_path: Path) -> None:
        _, path = sqlite_backup
        manifest = json.loads((path / "manifest.json").read_text())
        manifest["schema_revision"] = "0001"
        (path / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BackupError, match="schema revision 0001"):
            restore(_empty_target(tmp_path), path)

    def test_a_backup_of_the_other_database_kind(self, sqlite_backup: tuple[Settings, Path], tmp_path: Path) -> None:
        _, path = sqlite_backup
        postgresql = _settings("postgresql://registry@127.0.0.1:1/none", tmp_path / "target-var")
        with pytest.raises(BackupError, match="backup is of a sqlite database; this registry runs on postgresql"):
            restore(postgresql, path)

    def test_a_registry_that_holds_data_unless_forced(
        self, sqlite_backup: tuple[Settings, Path], tmp_path: Path
    ) -> None:
        source, path = sqlite_backup
        with pytest.raises(BackupError, match="not empty"):
            restore(source, path)
        assert restore(source, path, force=True).files == 3

    def test_the_commands_say_why(self, sqlite_backup: tuple[Settings, Path], tmp_path: Path) -> None:
        source, path = sqlite_backup
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": source.database_url,
            "REGISTRY_VAR_DIR": str(source.var_dir),
            "REGISTRY_SECRET_KEY": "backup-test",
        }
        refused = subprocess.run([REGISTRY, "restore", str(path)], env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and "not empty" in refused.stderr
        second = subprocess.run(
            [REGISTRY, "backup", str(tmp_path / "second")], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stderr
        assert "3 documents" in second.stdout
        assert json.loads((tmp_path / "second" / "manifest.json").read_text())["schema_revision"]
