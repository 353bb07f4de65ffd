"""Backing up and restoring the database, and the local file store with it.

A backup is a folder: `database.sqlite3` (SQLite) or `database.pgdump` (PostgreSQL, pg_dump's
custom format), and `files/` when files are stored locally (S3-compatible storage is backed
up where it lives). It is taken while the server runs:
- SQLite through sqlite3's online backup API, in one step: one read transaction, so the copy
  is the database as of one commit, and writers (WAL mode) are not held up meanwhile.
- PostgreSQL through `pg_dump`, which reads one snapshot likewise.
The database is copied before the files: a stored file is never changed, and a file the
copy refers to was written before its row was committed.

Restoring replaces the database and the files with the backup's, and is done with every
server of the deployment stopped.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from hallway.config import Settings

SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
FILES_DIR = "files"


class BackupFailed(Exception):
    """The backup or restore could not be done; nothing was replaced."""


@dataclass(frozen=True)
class BackupReport:
    folder: Path
    database_bytes: int
    files: int


def _sqlite_file(settings: Settings) -> Path | None:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _libpq_url(settings: Settings) -> str:
    """The database URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    # The owner's: pg_dump refuses tables whose rows row-level security would hide.
    url = make_url(settings.effective_migration_database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _files_root(settings: Settings) -> Path | None:
    return settings.data_dir / "files" if settings.storage == "local" else None


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupFailed(f"{command[0]} is not installed (PostgreSQL's client tools)") from exc
    if done.returncode != 0:
        raise BackupFailed(f"{command[0]} failed: {done.stderr.strip()}")


def backup(settings: Settings, folder: Path) -> BackupReport:
    """Write a backup of the running deployment into `folder`, which must not exist yet."""
    if folder.exists():
        raise BackupFailed(f"{folder} exists already; a backup goes into a new folder")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        source = _sqlite_file(settings)
        if source is not None:
            if not source.exists():
                raise BackupFailed(f"there is no database at {source}")
            database = partial / SQLITE_FILE
            with (
                closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live,
                closing(sqlite3.connect(database)) as copy,
            ):
                live.backup(copy)
        else:
            database = partial / POSTGRES_FILE
            _run(["pg_dump", "--format=custom", f"--file={database}", _libpq_url(settings)])
        files = 0
        root = _files_root(settings)
        if root is not None and root.exists():
            shutil.copytree(root, partial / FILES_DIR, ignore=shutil.ignore_patterns(".staging"))
            files = sum(1 for p in (partial / FILES_DIR).rglob("*") if p.is_file())
        size = database.stat().st_size
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupReport(folder, size, files)


def restore(settings: Settings, folder: Path) -> BackupReport:
    """Replace the configured database (and local files) with the backup in `folder`. Every
    server must be stopped."""
    target = _sqlite_file(settings)
    database = folder / (SQLITE_FILE if target is not None else POSTGRES_FILE)
    if not database.is_file():
        kind = "SQLite" if target is not None else "PostgreSQL"
        raise BackupFailed(f"{folder} holds no {kind} backup ({database.name})")
    if target is not None:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as check:
            if check.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise BackupFailed(f"{database} is damaged")
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(target.name + ".restoring")
        shutil.copyfile(database, staged)
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(staged, target)
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq_url(settings)}",
                str(database),
            ]
        )
    files = 0
    root = _files_root(settings)
    saved = folder / FILES_DIR
    if root is not None and saved.exists():
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(saved, root)
        files = sum(1 for p in root.rglob("*") if p.is_file())
    return BackupReport(folder, database.stat().st_size, files)
