"""Backup and restore of a coordinator's data folder, consistent while the coordinator runs.

A backup is the database copied with SQLite's online backup API (one read transaction: a consistent
snapshot however busy the coordinator is), the pki folder (the CA, server and audit keys, and the audit
log's latest signed checkpoint), and every blob that copy records. The pki folder is copied first: the
checkpoint names only committed records, so the database copied after it holds every record it names,
and the restored log verifies.
Blobs are immutable and a blob is on disk before the database records it, so every blob the copy names
exists, whatever was uploaded since. Each blob is verified against its digest as it is copied, on the way
out and on the way back in.

Runs' output (the logs folder, store/logfiles.py) is copied after the database, for the runs that copy
holds: each segment's index before its data, so a copy taken while a log grows holds at least what its
index names, and the store cuts a torn end back when it opens it, as after a crash (a log may hold a little
more than the copied record knows; never less than what it names, but for what the cap dropped meanwhile).

Both write into a temp folder beside the destination and rename it into place at the end, so a failure
leaves nothing half-made, and neither writes into a folder that holds anything.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

import kiln
from kiln.coordinator.store.migrations import MIGRATIONS
from kiln.core import clock
from kiln.core.atomic import atomic_write, building
from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.verified import VerifiedWriter

FORMAT = 1
MANIFEST = "backup.json"
LOGS = "logs"  # runs' output, beside the database (kiln.coordinator.store.logfiles)


@dataclass(frozen=True)
class BackupInfo:
    format: int
    kiln_version: str
    schema_version: int
    created_at: float
    blobs: int
    bytes: int


def backup(data: Path, dest: Path) -> BackupInfo:
    """Copies the coordinator's state in `data` to the new or empty folder `dest`."""
    db = data / "kiln.db"
    if not db.is_file() or not (data / "pki").is_dir():
        raise FailedPrecondition(f"{data} holds no coordinator data (kiln.db and pki/); check --data")
    _must_be_empty(dest, "back up into")
    with building(dest, durable=True) as tmp:
        # copy2 keeps the keys' 0600 modes; a checkpoint being rewritten leaves a temp file to pass over
        shutil.copytree(data / "pki", tmp / "pki", ignore=shutil.ignore_patterns(".*.tmp"))
        schema = _copy_database(db, tmp / "kiln.db")
        count, size = _copy_blobs(tmp / "kiln.db", data / "blobs", tmp / "blobs")
        _copy_logs(data / LOGS, tmp / LOGS, _run_ids(tmp / "kiln.db"))
        info = BackupInfo(FORMAT, kiln.__version__, schema, clock.now(), count, size)
        atomic_write(tmp / MANIFEST, json.dumps(asdict(info), indent=2).encode() + b"\n")
    return info


def restore(source: Path, data: Path) -> BackupInfo:
    """Recreates a coordinator data folder from a backup, into the new or empty folder `data`."""
    info = read_info(source)
    _must_be_empty(data, "restore into")
    with building(data, durable=True) as tmp:
        tmp.chmod(0o700)
        shutil.copyfile(source / "kiln.db", tmp / "kiln.db")
        if _schema(tmp / "kiln.db", check=True) != info.schema_version:
            raise InvalidArgument(f"{source} is damaged: its database and {MANIFEST} disagree on the schema")
        shutil.copytree(source / "pki", tmp / "pki")
        count, _ = _copy_blobs(tmp / "kiln.db", source / "blobs", tmp / "blobs")
        if count != info.blobs:
            raise InvalidArgument(f"{source} is damaged: {count} blobs, but {MANIFEST} says {info.blobs}")
        _copy_logs(source / LOGS, tmp / LOGS)  # a backup made before logs had files has none
    return info


def read_info(source: Path) -> BackupInfo:
    """The backup's description, checked: a Kiln backup this Kiln can restore."""
    try:
        raw = json.loads((source / MANIFEST).read_text())
        info = BackupInfo(**raw)
    except (OSError, ValueError, TypeError):
        raise InvalidArgument(f"{source} is not a Kiln backup (no readable {MANIFEST})") from None
    if info.format > FORMAT or info.schema_version > len(MIGRATIONS):
        raise FailedPrecondition(
            f"{source} was made by Kiln {info.kiln_version} (backup format {info.format}, schema "
            f"{info.schema_version}), newer than this Kiln {kiln.__version__}: restore it with that version"
        )
    for part in ("kiln.db", "pki", "blobs"):
        if not (source / part).exists():
            raise InvalidArgument(f"{source} is not a complete Kiln backup: {part} is missing")
    return info


def _must_be_empty(folder: Path, doing: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidArgument(
            f"will not {doing} {folder}: it is not an empty folder (pick a new one, or move it away first)"
        )


def _copy_database(db: Path, out: Path) -> int:
    """The online backup: a consistent copy of a live WAL database, as one self-contained file."""
    source = sqlite3.connect(db, timeout=30)
    try:
        source.execute("PRAGMA query_only=1")
        target = sqlite3.connect(out)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    return _schema(out, check=True)


def _schema(db: Path, check: bool) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if check and conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise InvalidArgument(f"the database {db.name} fails SQLite's integrity check")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.DatabaseError as e:
        raise InvalidArgument(f"{db} is not a readable Kiln database: {e}") from None
    finally:
        conn.close()
    return int(row[0]) if row else 0


def _copy_blobs(db: Path, source: Path, dest: Path) -> tuple[int, int]:
    """Copies every blob the database records, verifying each against its digest and size."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT digest, size FROM blobs ORDER BY digest").fetchall()
    finally:
        conn.close()
    total = 0
    dest.mkdir(exist_ok=True)  # a coordinator that holds no blob yet still has a (restorable) blob store
    for digest, size in rows:
        _copy_verified(source / digest[:2] / digest, dest / digest[:2] / digest, digest, size)
        total += size
    return len(rows), total


def _run_ids(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM runs")}


def _copy_logs(source: Path, dest: Path, runs: set[str] | None = None) -> int:
    """Copies the output of the runs in `runs` (all, when None); returns how many runs had some."""
    if not source.is_dir():
        return 0
    copied = 0
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and (runs is None or p.name in runs)):
        out = dest / folder.name
        out.mkdir(parents=True)
        for index in sorted(folder.glob("*.idx")):
            try:
                shutil.copyfile(index, out / index.name)
                shutil.copyfile(index.with_suffix(".zst"), out / index.with_suffix(".zst").name)
            except FileNotFoundError:  # a segment the cap dropped while it was being copied
                (out / index.name).unlink(missing_ok=True)
        copied += 1
    return copied


def _copy_verified(src: Path, out: Path, digest: str, size: int) -> None:
    store = src.parent.parent
    try:
        f = open(src, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise FailedPrecondition(
            f"blob {digest[:12]} is recorded but missing from {store}: the blob store is damaged"
        ) from None
    with f:  # not durable one by one: the folder being built is synced as a whole before its rename
        VerifiedWriter(
            digest,
            out,
            expected_size=size,
            durable=False,
            mismatch=lambda _: FailedPrecondition(
                f"blob {digest[:12]} in {store} does not match its digest: the copy there is damaged"
            ),
        ).copy_from(f)
