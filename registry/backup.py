"""Backup and restore of a whole registry: its database and its uploaded documents, with a manifest of checksums.

A backup is a directory:

    manifest.json        format, schema revision, database kind, and the SHA-256 and size of every file
    database.sqlite      SQLite: a consistent copy made with SQLite's online backup API
    database.pgdump      PostgreSQL: pg_dump's custom format (one snapshot, even under writes)
    files/<area>/...     the uploaded documents (var/evidence, var/reports), stored by checksum

The database is copied first and the documents after: a document is stored before the row naming it
is committed, so every document the copied database names is there to copy. Restore checks every
checksum and the schema revision before it touches anything, and refuses a registry that holds data
unless forced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select, table
from sqlalchemy.engine import make_url

from registry import migrations
from registry.db import create_db_engine, normalise_database_url, sqlite_file
from registry.settings import Settings

FORMAT = "provider-qa-registry-backup/1"
MANIFEST = "manifest.json"
# The var/ folders that hold uploaded documents (registry.assessments.evidence, registry.qa.services).
DOCUMENT_AREAS = ("evidence", "reports")
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    revision: str
    database_kind: str
    files: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _kind(database_url: str) -> str:
    return "sqlite" if normalise_database_url(database_url).startswith("sqlite") else "postgresql"


def _libpq_url(database_url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], what: str) -> None:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed; it is needed to {what}") from None
    if completed.returncode != 0:
        raise BackupError(f"{command[0]} failed to {what}: {completed.stderr.strip()[-2000:]}")


def backup(settings: Settings, path: Path) -> Outcome:
    """Write a backup of the registry to `path`, a directory that must not exist yet."""
    path = path.resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} already exists and is not an empty directory; give a new path")
    engine = create_db_engine(settings.database_url)
    try:
        revision = migrations.current_revision(engine)
    finally:
        engine.dispose()
    if revision is None:
        raise BackupError("the database is not migrated: there is no registry to back up")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed at the end: a backup that stopped half-way never looks whole.
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        kind = _kind(settings.database_url)
        database_name = _dump_database(settings.database_url, kind, staging)
        entries = [_entry(staging, database_name)]
        for area in DOCUMENT_AREAS:
            source = settings.var_dir / area
            if not source.is_dir():
                continue
            for file in sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")):
                relative = Path("files") / area / file.relative_to(source)
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, staging / relative)
                entries.append(_entry(staging, relative.as_posix()))
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "schema_revision": revision,
            "database": {"kind": kind, "file": database_name},
            "files": entries,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if path.exists():
            path.rmdir()
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Outcome(path, revision, kind, len(entries) - 1)


def _entry(root: Path, relative: str) -> dict[str, Any]:
    file = root / relative
    return {"path": relative, "sha256": _sha256(file), "size": file.stat().st_size}


def _dump_database(database_url: str, kind: str, staging: Path) -> str:
    if kind == "sqlite":
        source_file = sqlite_file(database_url)
        if not source_file or not Path(source_file).exists():
            raise BackupError(f"the SQLite database {source_file} does not exist")
        target = staging / "database.sqlite"
        # The online backup API copies one consistent snapshot while writers carry on (WAL).
        with sqlite3.connect(f"file:{source_file}?mode=ro", uri=True) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        copy.close()
        source.close()
        return target.name
    target = staging / "database.pgdump"
    _run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", _libpq_url(database_url)],
        "dump the PostgreSQL database",
    )
    return target.name


def read_manifest(path: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file it lists against its checksum."""
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise BackupError(f"{path} is not a registry backup: it has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"the manifest of {path} is damaged: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup this registry can read (format {FORMAT} expected)")
    for entry in manifest.get("files", []):
        relative = Path(str(entry.get("path", "")))
        if relative.is_absolute() or ".." in relative.parts:
            raise BackupError(f"the manifest of {path} names a file outside the backup: {relative}")
        file = path / relative
        if not file.is_file():
            raise BackupError(f"the backup is incomplete: {relative} is missing")
        if file.stat().st_size != entry.get("size") or _sha256(file) != entry.get("sha256"):
            raise BackupError(f"the backup is damaged: {relative} does not match its checksum in the manifest")
    return manifest


def _holds_data(engine: Engine) -> list[str]:
    """The tables of the target database that hold rows (the migration record aside)."""
    names = [name for name in inspect(engine).get_table_names() if name != "alembic_version"]
    with engine.connect() as connection:
        return [name for name in names if connection.execute(select(func.count()).select_from(table(name))).scalar()]


def restore(settings: Settings, path: Path, force: bool = False) -> Outcome:
    """Restore the backup at `path` into the configured (empty, unless forced) registry."""
    path = path.resolve()
    manifest = read_manifest(path)
    revision = str(manifest.get("schema_revision"))
    head = migrations.head_revision()
    if revision != head:
        raise BackupError(
            f"the backup is of schema revision {revision}, this registry's code expects {head}: restore it with "
            "the registry version that made it, then upgrade"
        )
    kind = _kind(settings.database_url)
    database = manifest.get("database", {})
    if database.get("kind") != kind:
        raise BackupError(f"the backup is of a {database.get('kind')} database; this registry runs on {kind}")
    if database.get("file") not in {entry.get("path") for entry in manifest.get("files", [])}:
        raise BackupError(f"the manifest of {path} lists no checksum for its database file")
    engine = create_db_engine(settings.database_url)
    try:
        occupied = _holds_data(engine)
        if occupied and not force:
            raise BackupError(
                f"the target registry is not empty ({', '.join(sorted(occupied)[:5])} hold data); restore into an "
                "empty database, or give --force to replace what is there"
            )
    finally:
        engine.dispose()
    _load_database(settings.database_url, kind, path / str(database.get("file")))
    engine = create_db_engine(settings.database_url)
    try:
        restored = migrations.current_revision(engine)
    finally:
        engine.dispose()
    if restored != revision:
        raise BackupError(f"the restored database is at revision {restored}, the manifest says {revision}")
    files = [entry for entry in manifest["files"] if str(entry["path"]).startswith("files/")]
    for entry in files:
        relative = Path(entry["path"]).relative_to("files")
        target = settings.var_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
        os.close(handle)
        shutil.copy2(path / entry["path"], temporary)
        os.replace(temporary, target)
    return Outcome(path, revision, kind, len(files))


def _load_database(database_url: str, kind: str, dump: Path) -> None:
    if kind == "sqlite":
        target_file = sqlite_file(database_url)
        if not target_file:
            raise BackupError("restore needs a SQLite database file, not an in-memory database")
        Path(target_file).parent.mkdir(parents=True, exist_ok=True)
        # The backup API replaces the target's pages in one transaction, WAL and all.
        with sqlite3.connect(f"file:{dump}?mode=ro", uri=True) as source, sqlite3.connect(target_file) as target:
            source.backup(target)
        target.close()
        source.close()
        return
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={_libpq_url(database_url)}",
            str(dump),
        ],
        "restore the PostgreSQL database",
    )
