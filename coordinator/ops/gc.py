"""Blob garbage collection: removes blobs no snapshot references (uploads of pushes that never finished),
safely while the coordinator runs.

Only blobs older than `min_age` go, so a push in progress (blobs uploaded, snapshot not yet recorded)
keeps what it uploaded. Rows go before files, in one short transaction that rechecks the snapshots made
since the scan, so the database never names a blob whose file is gone. A file is moved aside before it is
deleted, and put back if it was written recently (an upload of the same content in the meantime).
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kiln.coordinator.store.migrations import MIGRATIONS
from kiln.core import clock
from kiln.core.errors import FailedPrecondition
from kiln.core.hashing import is_digest
from kiln.core.manifest import Entry

Holding = tuple[str, str]  # (project, digest)


@dataclass(frozen=True)
class GcReport:
    referenced: int  # blobs some snapshot references
    dropped_holdings: int  # (project, blob) pairs no snapshot of that project references
    removed_blobs: int
    removed_bytes: int
    dry_run: bool


def collect_garbage(data: Path, min_age_s: float, dry_run: bool = False) -> GcReport:
    db = data / "kiln.db"
    if not db.is_file():
        raise FailedPrecondition(f"{data} holds no coordinator database (kiln.db); check --data")
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        _check_schema(conn)
        cutoff = clock.now() - min_age_s
        seen_rowid, referenced = _referenced(conn, "SELECT rowid, project, manifest FROM snapshots")
        referenced |= _uploaded(conn)
        holdings = conn.execute(
            "SELECT p.project, p.digest FROM project_blobs p JOIN blobs b ON b.digest = p.digest "
            "WHERE b.created_at < ?",
            [cutoff],
        ).fetchall()
        stale = [h for h in map(tuple, holdings) if h not in referenced]
        doomed = _drop_rows(conn, stale, seen_rowid, cutoff, dry_run)
        known = {r[0] for r in conn.execute("SELECT digest FROM blobs")}
    finally:
        conn.close()
    blobs = data / "blobs"
    orphans = [d for d in _files(blobs) if d not in known and d not in doomed]
    removed, freed = 0, 0
    for digest in [*doomed, *orphans]:
        size = _size(blobs, digest, cutoff)
        if size >= 0 and (dry_run or _remove(blobs, digest, cutoff)):
            removed, freed = removed + 1, freed + size
    return GcReport(len({d for _, d in referenced}), len(stale), removed, freed, dry_run)


def _check_schema(conn: sqlite3.Connection) -> None:
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    if not row or int(row[0]) != len(MIGRATIONS):
        raise FailedPrecondition(
            f"the database has schema {row[0] if row else 0}, this Kiln knows {len(MIGRATIONS)}: "
            "start the coordinator of this version once (it migrates), or use the Kiln that wrote it"
        )


def _referenced(conn: sqlite3.Connection, sql: str, params: Iterable[object] = ()) -> tuple[int, set[Holding]]:
    """(highest snapshot rowid seen, every (project, digest) the snapshots reference)."""
    top, found = 0, set()
    for rowid, project, manifest in conn.execute(sql, list(params)):
        top = max(top, rowid)
        for row in json.loads(zlib.decompress(manifest)):
            entry = Entry(*row)
            if entry.has_blob:
                found.add((project, entry.digest))
    return top, found


def _uploaded(conn: sqlite3.Connection) -> set[Holding]:
    """(project, digest) of every artifact uploaded through the MLflow API (coordinator/mlflow/): a running
    run's and a logged model's are in no snapshot yet, and stay."""
    rows = conn.execute(
        "SELECT r.project, a.digest FROM mlflow_artifacts a JOIN runs r ON r.id = a.owner "
        "UNION SELECT m.project, a.digest FROM mlflow_artifacts a JOIN mlflow_logged_models m ON m.id = a.owner"
    )
    return {(str(project), str(digest)) for project, digest in rows}


def _drop_rows(
    conn: sqlite3.Connection, stale: list[Holding], seen_rowid: int, cutoff: float, dry_run: bool
) -> set[str]:
    """Drops stale holdings and the blobs no project holds any more; returns those blobs.
    Snapshots made since the scan are read again inside the transaction: what they reference stays."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _, newer = _referenced(conn, "SELECT rowid, project, manifest FROM snapshots WHERE rowid > ?", [seen_rowid])
        stale = [h for h in stale if h not in newer]
        conn.executemany("DELETE FROM project_blobs WHERE project = ? AND digest = ?", stale)
        rows = conn.execute(
            "SELECT digest FROM blobs b WHERE created_at < ? AND NOT EXISTS "
            "(SELECT 1 FROM project_blobs p WHERE p.digest = b.digest)",
            [cutoff],
        ).fetchall()
        conn.executemany("DELETE FROM blobs WHERE digest = ?", rows)
        conn.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return {d for (d,) in rows}


def _files(blobs: Path) -> Iterable[str]:
    """Digests of the blob files on disk (not the uploads in progress under tmp/)."""
    for fanout in blobs.iterdir() if blobs.is_dir() else ():
        if len(fanout.name) == 2 and fanout.is_dir():
            yield from (f.name for f in fanout.iterdir() if is_digest(f.name))


def _size(blobs: Path, digest: str, cutoff: float) -> int:
    """The blob file's size; -1 if it is gone or was written after `cutoff` (kept either way)."""
    try:
        st = (blobs / digest[:2] / digest).stat()
    except OSError:
        return -1
    return st.st_size if st.st_mtime < cutoff else -1


def _remove(blobs: Path, digest: str, cutoff: float) -> bool:
    """Deletes a blob file unless it was written after `cutoff` (then an upload just stored it again)."""
    path = blobs / digest[:2] / digest
    aside = blobs / "tmp" / f"gc.{digest}.{os.getpid()}"
    aside.parent.mkdir(exist_ok=True)
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if aside.stat().st_mtime >= cutoff:
        if path.exists():
            aside.unlink()
        else:
            os.rename(aside, path)
        return False
    aside.unlink()
    return True
