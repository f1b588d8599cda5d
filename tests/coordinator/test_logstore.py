"""Runs' output in files beside the database (coordinator/store/logfiles.py), through the store's log
methods: ranges (all, after a chunk, before one, tails) and byte offsets found from the index; re-adding
is a no-op; a torn last frame (a kill -9 mid-write) is dropped on open; the cap keeps the head and a
rolling tail, and the run's record says how much went; rows of the old `logs` table are moved on start;
and the database does not grow with the output."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from kiln.coordinator.store import SqliteStore
from kiln.coordinator.store.logfiles import RECORD, LogFiles
from kiln.coordinator.store.migrations import MIGRATIONS
from kiln.core.errors import InvalidArgument
from kiln.core.limits import MiB
from kiln.core.runs import LogChunk, Run, RunSpec, RunState

RUN = "r-0123abcd"
# attempt 1: ten chunks of 1,000 bytes, streams alternating; attempt 2: five of 500
CHUNKS = [LogChunk(1, s, ("stdout", "stderr")[s % 2], bytes([64 + s]) * 1000, float(s)) for s in range(1, 11)]
CHUNKS += [LogChunk(2, s, "stdout", bytes([96 + s]) * 500, 20.0 + s) for s in range(1, 6)]
OFFSETS = [sum(len(c.data) for c in CHUNKS[:i]) for i in range(len(CHUNKS))]


def keys(chunks: list[LogChunk]) -> list[tuple[int, int]]:
    return [(c.attempt, c.seq) for c in chunks]


@pytest.fixture
def store(tmp_path: Path):
    s = SqliteStore(tmp_path / "kiln.db")
    s.db.execute("INSERT INTO projects (name, created_by, created_at) VALUES ('p', 'admin', 0)")
    yield s
    s.close()


def test_ranges_tails_and_offsets_come_from_the_index(tmp_path: Path):
    logs = LogFiles(tmp_path / "logs", 4 * MiB)
    logs.add(RUN, CHUNKS)
    every = logs.chunks(RUN, (0, 0), None, 1000, 1 << 30)
    assert keys(every) == keys(CHUNKS) and [c.data for c in every] == [c.data for c in CHUNKS]
    assert [c.offset for c in every] == OFFSETS and [c.stream for c in every] == [c.stream for c in CHUNKS]
    assert [c.time for c in every] == [c.time for c in CHUNKS]
    assert keys(logs.chunks(RUN, (1, 8), None, 1000, 1 << 30)) == keys(CHUNKS[8:])
    assert keys(logs.chunks(RUN, (1, 2), (2, 1), 1000, 1 << 30)) == keys(CHUNKS[2:10])
    assert keys(logs.chunks(RUN, (0, 0), None, 3, 1 << 30)) == keys(CHUNKS[:3])  # a page of 3
    assert keys(logs.chunks(RUN, (0, 0), None, 1000, 1500)) == keys(CHUNKS[:2])  # past 1,500 bytes
    assert logs.bytes_through(RUN, None) == sum(len(c.data) for c in CHUNKS)
    assert logs.bytes_through(RUN, (1, 3)) == 3000 and logs.bytes_through(RUN, (0, 0)) == 0
    assert logs.tail_start(RUN, 1000, None) == (2, 3)  # the last two 500-byte chunks hold 1,000
    assert logs.tail_start(RUN, 1001, None) == (2, 2)
    assert logs.tail_start(RUN, 2500, (2, 1)) == (1, 7)  # 2,500 before (2, 1): the last three of attempt 1
    assert logs.tail_start(RUN, 1 << 20, None) == (0, 0)
    assert logs.chunks("r-unknown", (0, 0), None, 10, 1 << 30) == []
    with pytest.raises(InvalidArgument):
        logs.chunks("../escape", (0, 0), None, 10, 1 << 30)
    logs.close()


def test_a_chunk_already_stored_is_ignored_and_the_log_reads_back_after_reopening(tmp_path: Path):
    logs = LogFiles(tmp_path / "logs", 4 * MiB)
    logs.add(RUN, CHUNKS[:5])
    logs.add(RUN, CHUNKS[3:])  # a resend after a reconnection, overlapping
    logs.add(RUN, [LogChunk(1, 4, "stdout", b"other bytes", 9.0)])  # before the last one: a resend too
    logs.close()
    again = LogFiles(tmp_path / "logs", 4 * MiB)
    every = again.chunks(RUN, (0, 0), None, 1000, 1 << 30)
    assert keys(every) == keys(CHUNKS) and [c.offset for c in every] == OFFSETS
    again.close()


def test_a_torn_last_frame_is_dropped_on_open_and_writing_goes_on(tmp_path: Path):
    logs = LogFiles(tmp_path / "logs", 4 * MiB)
    logs.add(RUN, CHUNKS[:5])
    logs.close()
    [data] = (tmp_path / "logs" / RUN).glob("*.zst")
    index = data.with_suffix(".idx")
    whole = data.stat().st_size
    with open(data, "r+b") as f:  # the last frame cut short, and a frame no record names
        f.truncate(whole - 3)
    with open(index, "ab") as f:
        f.write(b"\0" * (RECORD.size // 2))  # half a record
    again = LogFiles(tmp_path / "logs", 4 * MiB)
    assert keys(again.chunks(RUN, (0, 0), None, 1000, 1 << 30)) == keys(CHUNKS[:4])
    assert index.stat().st_size == 4 * RECORD.size and data.stat().st_size < whole - 3
    again.add(RUN, CHUNKS[4:])  # the agent resends what was not acknowledged
    assert keys(again.chunks(RUN, (0, 0), None, 1000, 1 << 30)) == keys(CHUNKS)
    again.close()


def test_over_the_cap_the_head_and_a_rolling_tail_are_kept_and_offsets_count_what_was_dropped(tmp_path: Path):
    cap = MiB
    logs = LogFiles(tmp_path / "logs", cap)
    big = [LogChunk(1, s, "stdout", bytes([s % 251]) * 32 * 1024, float(s)) for s in range(1, 129)]  # 4 MiB
    for i in range(0, len(big), 8):
        log = logs.add(RUN, big[i : i + 8])
    kept = logs.chunks(RUN, (0, 0), None, 10_000, 1 << 30)
    held = sum(len(c.data) for c in kept)
    assert held <= cap and log.dropped == 4 * MiB - held and log.end == 4 * MiB
    assert kept[0].seq == 1 and kept[-1].seq == 128  # the first and the last output are there
    assert all(c.data == big[c.seq - 1].data and c.offset == (c.seq - 1) * 32 * 1024 for c in kept)
    gaps = [(a, b) for a, b in zip(kept, kept[1:], strict=False) if b.offset != a.offset + len(a.data)]
    assert len(gaps) == 1  # one hole, in the middle: between the head and the tail
    (last_head, first_tail) = gaps[0]
    assert last_head.offset + len(last_head.data) >= cap // 2 and first_tail.offset - last_head.offset > 0
    assert logs.bytes_through(RUN, None) == 4 * MiB
    # a tail reaching back into the hole begins where the kept output resumes
    assert logs.tail_start(RUN, 3 * MiB, None) == (last_head.attempt, last_head.seq)
    logs.close()
    again = LogFiles(tmp_path / "logs", cap)
    assert keys(again.chunks(RUN, (0, 0), None, 10_000, 1 << 30)) == keys(kept)
    assert again.add(RUN, []).dropped == log.dropped
    again.close()


def test_a_cap_below_a_mebibyte_is_refused(tmp_path: Path):
    with pytest.raises(InvalidArgument, match="at least"):
        LogFiles(tmp_path / "logs", 1000)


def test_the_record_says_how_much_was_dropped(store: SqliteStore):
    run = store_run(store)
    store.set_log_cap(MiB)
    store.add_logs(run, [LogChunk(1, s, "stdout", b"x" * 64 * 1024, 1.0) for s in range(1, 65)])  # 4 MiB
    found = store.run(run, with_events=False)
    assert found is not None and found.log_cap_bytes == MiB
    assert found.log_dropped_bytes == 4 * MiB - sum(len(c.data) for c in store.logs(run, limit=10_000))


def store_run(store: SqliteStore) -> str:
    store.add_run(Run(RUN, RunSpec("p", ("true",)), "admin", RunState.QUEUED, 1.0))
    return RUN


def test_the_database_does_not_grow_with_the_output(store: SqliteStore, tmp_path: Path):
    run = store_run(store)
    size = lambda: sum(p.stat().st_size for p in tmp_path.glob("kiln.db*"))  # noqa: E731
    before = size()
    for n in range(0, 320, 16):  # 20 MiB in batches of 16 chunks
        store.add_logs(run, [LogChunk(1, s, "stdout", os.urandom(64 * 1024), 1.0) for s in range(n + 1, n + 17)])
    assert size() - before < 20 * MiB // 100
    assert store.log_files.bytes_through(run, None) == 20 * MiB


def test_rows_of_the_old_logs_table_are_moved_to_the_files_and_the_table_dropped(tmp_path: Path):
    path = tmp_path / "kiln.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for script in MIGRATIONS[:8]:  # a database of the version before the move
        old.executescript(script)
    old.execute("INSERT INTO schema_version VALUES (8)")
    old.executemany(
        "INSERT INTO logs (run_id, attempt, seq, stream, data, time) VALUES (?, ?, ?, ?, ?, ?)",
        [(RUN, c.attempt, c.seq, c.stream, c.data, c.time) for c in CHUNKS]
        + [("r-other", 1, s, "stdout", b"y" * 10, 1.0) for s in range(1, 2500)],
    )
    old.commit()
    old.close()
    store = SqliteStore(path)
    try:
        assert not store.db["logs"].exists() and not store.db["logs_to_move"].exists()
        moved = store.logs(RUN, limit=1000)
        assert keys(moved) == keys(CHUNKS) and [c.data for c in moved] == [c.data for c in CHUNKS]
        assert [c.offset for c in moved] == OFFSETS
        assert store.log_files.bytes_through("r-other", None) == 24_990
        assert len(store.logs("r-other", limit=5000)) == 2499
        assert (tmp_path / "logs" / RUN).is_dir()
    finally:
        store.close()
