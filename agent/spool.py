"""The agent's own small database (SQLite): the outbox of messages not yet acknowledged by the coordinator,
and the journal of jobs this node holds. Both survive kill -9, so a restarted agent resends what was not
acknowledged and re-attaches to what still runs; log offsets move in the same transaction as the log
messages, so no output is shipped twice or lost."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    assignment BLOB NOT NULL,
    state TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    stdout_bytes INTEGER NOT NULL DEFAULT 0,
    stderr_bytes INTEGER NOT NULL DEFAULT 0,
    next_seq INTEGER NOT NULL DEFAULT 1,
    final_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE IF NOT EXISTS track_seen (
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    proc TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (run_id, attempt, pid, proc)
);
"""


@dataclass(frozen=True)
class JobRecord:
    run_id: str
    attempt: int
    assignment: bytes
    state: str
    ref: str
    stdout_bytes: int
    stderr_bytes: int
    next_seq: int
    final_seq: int


class Spool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # an acknowledged promise must survive a power cut
        self.conn.executescript(SCHEMA)
        self.lock = threading.RLock()
        self.added = threading.Condition(self.lock)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self.added.notify_all()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- outbox -----------------------------------------------------------------------------------------

    @staticmethod
    def append(conn: sqlite3.Connection, payload: bytes) -> int:
        """Adds a message inside a transaction; returns its sequence number."""
        return int(conn.execute("INSERT INTO outbox (payload) VALUES (?)", [payload]).lastrowid or 0)

    def pending(self, after: int, limit: int = 100) -> list[tuple[int, bytes]]:
        with self.lock:
            return self.conn.execute(
                "SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]
            ).fetchall()

    def wait_for_more(self, after: int, timeout: float) -> None:
        with self.added:
            if not self.pending(after, 1):
                self.added.wait(timeout)

    def wake(self) -> None:
        with self.added:
            self.added.notify_all()

    def ack(self, seq: int) -> list[tuple[str, int]]:
        """Forgets messages up to `seq`; returns the jobs whose final report is now acknowledged."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE seq <= ?", [seq])
            done = conn.execute(
                "SELECT run_id, attempt FROM jobs WHERE final_seq > 0 AND final_seq <= ?", [seq]
            ).fetchall()
            conn.execute("DELETE FROM jobs WHERE final_seq > 0 AND final_seq <= ?", [seq])
            for run_id, attempt in done:
                conn.execute("DELETE FROM track_seen WHERE run_id = ? AND attempt = ?", [run_id, attempt])
        return [(r, a) for r, a in done]

    # -- tracking -------------------------------------------------------------------------------------------

    @staticmethod
    def mark_track(conn: sqlite3.Connection, run_id: str, attempt: int, pid: int, proc: str, seq: int) -> None:
        """Remembers the highest tracking batch stored per sending process (in the caller's transaction)."""
        conn.execute(
            "INSERT OR REPLACE INTO track_seen (run_id, attempt, pid, proc, seq) VALUES (?, ?, ?, ?, ?)",
            [run_id, attempt, pid, proc, seq],
        )

    def track_delivered(self, run_id: str, attempt: int) -> dict[tuple[int, str], int]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT pid, proc, seq FROM track_seen WHERE run_id = ? AND attempt = ?", [run_id, attempt]
            ).fetchall()
        return {(pid, proc): seq for pid, proc, seq in rows}

    # -- job journal ------------------------------------------------------------------------------------

    def add_job(self, run_id: str, attempt: int, assignment: bytes) -> bool:
        """Records a new job; False if this node already holds it (an assignment sent again)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO jobs (run_id, attempt, assignment, state) VALUES (?, ?, ?, ?)",
                [run_id, attempt, assignment, "assigned"],
            )
            return cur.rowcount == 1

    def jobs(self) -> list[JobRecord]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT run_id, attempt, assignment, state, ref, stdout_bytes, stderr_bytes, "
                "next_seq, final_seq FROM jobs ORDER BY rowid"
            ).fetchall()
        return [JobRecord(*r) for r in rows]

    def job(self, run_id: str, attempt: int) -> JobRecord | None:
        return next((j for j in self.jobs() if (j.run_id, j.attempt) == (run_id, attempt)), None)
