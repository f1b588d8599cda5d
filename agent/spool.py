"""The agent's own small database (SQLite): the outbox of reports not yet acknowledged by the coordinator,
and the journal of jobs this node holds. Both survive kill -9, so a restarted agent resends what was not
acknowledged and re-attaches to what still runs; log offsets move in the same transaction as the log
reports, so no output is shipped twice or lost.

The spool takes and gives `kiln.core.link` values; how they are written down is the link's business
(`Codec`, given by the agent's link module), so nothing here knows the wire. Its schema lives here alone,
versioned (`PRAGMA user_version`) and migrated on open like the coordinator's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kiln.core.errors import FailedPrecondition
from kiln.core.link import Assignment, LogBatch, RunUpdate, TrackBatch
from kiln.core.runs import LogChunk, RunState
from kiln.core.schema import migrate

Report = RunUpdate | LogBatch | TrackBatch

MIGRATIONS: list[str] = [
    # 1: the outbox, the job journal, and what each run's SDK processes delivered (the 0.1 schema, which
    #    spools written before schemas were versioned already hold: hence IF NOT EXISTS).
    """
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
    """,
    # 2: output is kept in a file per job (OUTPUT_DIR), its outbox rows saying where (JSON: run, attempt,
    #    first seq, time, offset in the file, [stream, length] of each chunk) with an empty payload.
    """
    ALTER TABLE outbox ADD COLUMN output TEXT NOT NULL DEFAULT '';
    """,
]
OUTPUT_DIR = "output"  # beside the spool's database: <run id>.<attempt>, the job's output as it came


class Codec(Protocol):
    """How reports and assignments are written down in the spool (the agent's link module decides)."""

    def encode_report(self, report: Report) -> bytes: ...

    def encode_assignment(self, assignment: Assignment) -> bytes: ...

    def decode_assignment(self, data: bytes) -> Assignment: ...


@dataclass(frozen=True)
class JobRecord:
    assignment: Assignment
    state: RunState
    ref: str
    stdout_bytes: int
    stderr_bytes: int
    next_seq: int
    final_seq: int

    @property
    def run_id(self) -> str:
        return self.assignment.run_id

    @property
    def attempt(self) -> int:
        return self.assignment.attempt


class Spool:
    def __init__(self, path: Path, codec: Codec) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.codec = codec
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # an acknowledged promise must survive a power cut
        self.output_dir = path.parent / OUTPUT_DIR
        self._outputs: dict[tuple[str, int], int] = {}  # open output files, by job
        self._unsynced: set[int] = set()  # output files written since the last synced commit
        self.lock = threading.RLock()
        self.added = threading.Condition(self.lock)
        self._migrate(path)

    def _migrate(self, path: Path) -> None:
        def too_new(found: int, known: int) -> Exception:
            return FailedPrecondition(
                f"the agent's spool {path} has schema version {found}, newer than this Kiln knows "
                f"({known}); upgrade Kiln on this node before starting the agent"
            )

        with self.transaction() as conn:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            reached = migrate(conn.execute, found, MIGRATIONS, too_new)
            conn.execute(f"PRAGMA user_version = {reached}")

    @contextmanager
    def transaction(self, synced: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic change. `synced=False` skips the fsync of this commit (it survives kill -9 of the agent
        all the same; a power cut may take it back, together with everything after it, never half of it):
        for changes whose loss only means sending something again, which the coordinator recognises
        (output, whose offsets roll back with it, and acknowledgements). The next synced commit, in the
        same WAL, makes them durable too."""
        with self.lock:
            if not synced:
                self.conn.execute("PRAGMA synchronous=NORMAL")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                if synced:  # the output its rows name is on disk before they are
                    for fd in self._unsynced:
                        os.fsync(fd)
                    self._unsynced.clear()
                self.conn.execute("COMMIT")
            finally:
                if not synced:
                    self.conn.execute("PRAGMA synchronous=FULL")
            self.added.notify_all()

    def close(self) -> None:
        with self.lock:
            for fd in self._outputs.values():
                os.close(fd)
            self._outputs.clear()
            self.conn.close()

    def schema_version(self) -> int:
        with self.lock:
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- outbox -----------------------------------------------------------------------------------------

    def _append(self, conn: sqlite3.Connection, report: Report) -> int:
        payload = self.codec.encode_report(report)
        return int(conn.execute("INSERT INTO outbox (payload) VALUES (?)", [payload]).lastrowid or 0)

    def pending(self, after: int, limit: int = 100, max_bytes: int = 16 << 20) -> list[tuple[int, bytes]]:
        """Reports after `after`, as (seq, what the codec wrote): the link sends them as they are. Output
        is read from its file here; a page stops after `max_bytes` of it."""
        found: list[tuple[int, bytes]] = []
        held = 0
        with self.lock:
            rows = self.conn.execute(
                "SELECT seq, payload, output FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]
            ).fetchall()
            for seq, payload, output in rows:
                if output:
                    batch = self._read_output(output)
                    held += sum(len(c.data) for c in batch.chunks)
                    payload = self.codec.encode_report(batch)
                found.append((int(seq), bytes(payload)))
                if held >= max_bytes:
                    break
        return found

    def _has_pending(self, after: int) -> bool:
        with self.lock:
            return self.conn.execute("SELECT 1 FROM outbox WHERE seq > ? LIMIT 1", [after]).fetchone() is not None

    # -- output files -----------------------------------------------------------------------------------

    def _output_fd(self, run_id: str, attempt: int) -> int:
        fd = self._outputs.get((run_id, attempt))
        if fd is None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self.output_dir / f"{run_id}.{attempt}"
            fd = self._outputs[(run_id, attempt)] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        return fd

    def _write_output(self, run_id: str, attempt: int, parts: list[tuple[str, bytes]]) -> int:
        """Appends the parts to the job's output file; returns where they begin. Bytes a crash leaves past
        the last committed row are never named by one: they are skipped, and the output read again."""
        fd = self._output_fd(run_id, attempt)
        at = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(b"".join(data for _, data in parts))
        while view:
            view = view[os.write(fd, view) :]
        self._unsynced.add(fd)
        return at

    def _read_output(self, text: str) -> LogBatch:
        ref = json.loads(text)
        run_id, attempt, seq, when = str(ref["run"]), int(ref["attempt"]), int(ref["seq"]), float(ref["time"])
        parts = [(str(stream), int(n)) for stream, n in ref["parts"]]
        data = os.pread(self._output_fd(run_id, attempt), sum(n for _, n in parts), int(ref["at"]))
        chunks, pos = [], 0
        for i, (stream, n) in enumerate(parts):
            chunks.append(LogChunk(attempt, seq + i, stream, data[pos : pos + n], when))
            pos += n
        return LogBatch(run_id=run_id, chunks=tuple(chunks))

    def _forget_output(self, run_id: str, attempt: int) -> None:
        fd = self._outputs.pop((run_id, attempt), None)
        if fd is not None:
            self._unsynced.discard(fd)
            os.close(fd)
        (self.output_dir / f"{run_id}.{attempt}").unlink(missing_ok=True)

    def pending_count(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def wait_for_more(self, after: int, timeout: float) -> None:
        with self.added:
            if not self._has_pending(after):
                self.added.wait(timeout)

    def wake(self) -> None:
        with self.added:
            self.added.notify_all()

    def ack(self, seq: int) -> list[tuple[str, int]]:
        """Forgets reports up to `seq`; returns the jobs whose final report is now acknowledged. Not synced: a
        lost acknowledgement only means the coordinator is sent those reports again, and ignores them."""
        with self.transaction(synced=False) as conn:
            conn.execute("DELETE FROM outbox WHERE seq <= ?", [seq])
            done = conn.execute(
                "SELECT run_id, attempt FROM jobs WHERE final_seq > 0 AND final_seq <= ?", [seq]
            ).fetchall()
            conn.execute("DELETE FROM jobs WHERE final_seq > 0 AND final_seq <= ?", [seq])
            for run_id, attempt in done:
                conn.execute("DELETE FROM track_seen WHERE run_id = ? AND attempt = ?", [run_id, attempt])
            for run_id, attempt in done:  # its output was all sent before its final report
                self._forget_output(run_id, attempt)
        return [(r, a) for r, a in done]

    # -- what jobs report -------------------------------------------------------------------------------

    def report_state(self, update: RunUpdate, ref: str = "") -> None:
        """A job moved (preparing, running): the report and the journal's state change together."""
        with self.transaction() as conn:
            self._append(conn, update)
            conn.execute(
                "UPDATE jobs SET state = ?, ref = coalesce(nullif(?, ''), ref) WHERE run_id = ? AND attempt = ?",
                [str(update.state), ref, update.run_id, update.attempt],
            )

    def report_final(self, update: RunUpdate) -> None:
        """A job ended: its journal entry is forgotten once this report is acknowledged."""
        with self.transaction() as conn:
            seq = self._append(conn, update)
            conn.execute(
                "UPDATE jobs SET state = ?, final_seq = ? WHERE run_id = ? AND attempt = ?",
                [str(update.state), seq, update.run_id, update.attempt],
            )

    def report_output(self, run_id: str, attempt: int, parts: list[tuple[str, bytes]], now: float) -> bool:
        """Ships output as numbered chunks: the bytes go to the job's output file and a row saying where to
        the outbox (sent as a LogBatch read back from the file); the journal's sequence and byte offsets
        move in the same transaction (not synced: a power cut takes back output and offsets together, and
        the runtime reads that output again from the offsets). False if the job is no longer in the journal."""
        with self.transaction(synced=False) as conn:
            row = conn.execute(
                "SELECT next_seq, stdout_bytes, stderr_bytes FROM jobs WHERE run_id = ? AND attempt = ?",
                [run_id, attempt],
            ).fetchone()
            if row is None:
                return False
            seq, offsets = row[0], {"stdout": row[1], "stderr": row[2]}
            at = self._write_output(run_id, attempt, parts)
            ref = {"run": run_id, "attempt": attempt, "seq": seq, "time": now, "at": at}
            ref["parts"] = [[stream, len(data)] for stream, data in parts]
            conn.execute("INSERT INTO outbox (payload, output) VALUES (?, ?)", [b"", json.dumps(ref)])
            for stream, data in parts:
                seq += 1
                offsets[stream] += len(data)
            conn.execute(
                "UPDATE jobs SET next_seq = ?, stdout_bytes = ?, stderr_bytes = ? WHERE run_id = ? AND attempt = ?",
                [seq, offsets["stdout"], offsets["stderr"], run_id, attempt],
            )
        return True

    # -- tracking ---------------------------------------------------------------------------------------

    def report_tracking(self, batch: TrackBatch, pid: int, proc: str) -> None:
        """Durable before the SDK is told so: the batch and the highest seq seen from its sending process
        (the SDK's own pid and per-process token), in one transaction."""
        with self.transaction() as conn:
            self._append(conn, batch)
            conn.execute(
                "INSERT OR REPLACE INTO track_seen (run_id, attempt, pid, proc, seq) VALUES (?, ?, ?, ?, ?)",
                [batch.run_id, batch.attempt, pid, proc, batch.seq],
            )

    def track_delivered(self, run_id: str, attempt: int) -> dict[tuple[int, str], int]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT pid, proc, seq FROM track_seen WHERE run_id = ? AND attempt = ?", [run_id, attempt]
            ).fetchall()
        return {(pid, proc): seq for pid, proc, seq in rows}

    # -- job journal ------------------------------------------------------------------------------------

    def add_job(self, assignment: Assignment) -> bool:
        """Records a new job; False if this node already holds it (an assignment sent again)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO jobs (run_id, attempt, assignment, state) VALUES (?, ?, ?, ?)",
                [assignment.run_id, assignment.attempt, self.codec.encode_assignment(assignment), "assigned"],
            )
            return cur.rowcount == 1

    def jobs(self) -> list[JobRecord]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT assignment, state, ref, stdout_bytes, stderr_bytes, next_seq, final_seq "
                "FROM jobs ORDER BY rowid"
            ).fetchall()
        return [
            JobRecord(
                assignment=self.codec.decode_assignment(bytes(a)),
                state=RunState(state),
                ref=ref,
                stdout_bytes=out,
                stderr_bytes=err,
                next_seq=next_seq,
                final_seq=final_seq,
            )
            for a, state, ref, out, err, next_seq, final_seq in rows
        ]

    def job(self, run_id: str, attempt: int) -> JobRecord | None:
        return next((j for j in self.jobs() if (j.run_id, j.attempt) == (run_id, attempt)), None)
