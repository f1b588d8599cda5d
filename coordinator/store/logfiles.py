"""Runs' output, outside the database: per run a folder of append-only segments, each a data file of
zstandard frames (one per chunk the agent sent) and an index file of fixed-size records, so any range, tail
or byte offset is found by binary search on the index without decompressing what came before.

Layout: `<logs>/<run id>/<n>.zst` and `<n>.idx`, n from 000000 up. An index record (`RECORD`) is a chunk's
attempt, seq, stream, flags, time, raw offset and length, and where its frame lies in the data file, with
the frame's CRC-32. Chunks arrive in (attempt, seq) order (the agent's outbox is ordered, and the
dispatcher takes only the current attempt's), so a chunk at or before the run's last one is a resend and
is ignored: the store is idempotent without looking anything up.

Offsets: a chunk's `offset` is its place in everything the run printed, counting output dropped under the
cap, so offsets never change once read and a reader sees a drop as a jump from one chunk's end to the next
chunk's offset.

The cap: once a run's output passes `cap_bytes`, the first half of the cap (the head: segments begun before
`cap_bytes // 2`) is kept, and so is a rolling tail of whole segments holding at most the rest; the oldest
tail segments are deleted as new output comes, so the middle is dropped and `dropped` says how much.

Durability: a chunk is written to the OS (write(2)) before `add` returns, so what the coordinator
acknowledged survives the coordinator's kill -9; files are fsynced at most `SYNC_S` apart (or every
`SYNC_BYTES`) and when a segment closes, so a power cut costs at most the last second, as the database's
own WAL with synchronous=NORMAL may. On opening a run, index records past the data file's end, a torn
record, or a last frame whose CRC does not match (a torn write) are dropped, and the data file is cut back
to the last whole frame.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import zstandard

from kiln.core.errors import InvalidArgument
from kiln.core.limits import MiB
from kiln.core.runs import LogChunk

LogKey = tuple[int, int]  # a chunk's (attempt, seq), the order of a run's output

# attempt, seq, stream (0 stdout, 1 stderr), flags (ZSTD), time, raw offset, raw length, frame offset in the
# data file, frame length, frame CRC-32
RECORD = struct.Struct("<IQBBdQIQII")
STREAMS = ("stdout", "stderr")
ZSTD = 1  # the frame is zstandard; else the chunk is stored as it came (it did not compress)
LEVEL = 1
SEGMENT_MAX_BYTES = 64 * MiB  # of output per segment, and at most a 16th of the cap (the tail's granularity)
SEGMENT_MAX_CHUNKS = 1 << 16  # so one segment's index is at most 3.2 MiB, read whole when searched
MIN_CAP_BYTES = 1 * MiB
SYNC_S = 1.0
SYNC_BYTES = 64 * MiB
OPEN_RUNS = 64  # runs whose current segment is kept open for writing
READ_SPAN_BYTES = 8 * MiB  # of frames read at once
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class Segment:
    no: int
    first: LogKey
    last: LogKey
    raw_start: int  # the offset of its first chunk
    raw_end: int  # the end of its last chunk
    count: int
    size: int  # of its data file

    @property
    def raw_bytes(self) -> int:
        return self.raw_end - self.raw_start


def check_cap(cap_bytes: int) -> int:
    if cap_bytes < MIN_CAP_BYTES:
        raise InvalidArgument(
            f"a run's log cap of {cap_bytes:,} bytes is too small: give at least {MIN_CAP_BYTES:,} (1 MiB)"
        )
    return cap_bytes


class RunLog:
    """One run's segments. The caller (`LogFiles`) holds the lock around every method."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.segments: list[Segment] = []
        self._data: int | None = None  # the last segment's files, open for appending
        self._index: int | None = None
        self.unsynced = 0
        self.recorded_dropped: int | None = None  # what the run's record says (None: not known here)
        if folder.is_dir():
            numbers = sorted(int(p.stem) for p in folder.glob("*.idx") if p.stem.isdigit())
            for no in numbers:
                seg = self._load(no, last=no == numbers[-1])
                if seg is not None:
                    self.segments.append(seg)

    # -- opening ----------------------------------------------------------------------------------------

    def _paths(self, no: int) -> tuple[Path, Path]:
        return self.folder / f"{no:06d}.zst", self.folder / f"{no:06d}.idx"

    def _load(self, no: int, last: bool) -> Segment | None:
        data, index = self._paths(no)
        raw = index.read_bytes()
        size = data.stat().st_size if data.exists() else 0
        count = len(raw) // RECORD.size
        if last:  # only the segment being written can be torn: the others were synced when they closed
            while count and not _frame_ok(data, RECORD.unpack_from(raw, (count - 1) * RECORD.size), size):
                count -= 1
            good = _frame_end(RECORD.unpack_from(raw, (count - 1) * RECORD.size)) if count else 0
            if count * RECORD.size != len(raw):
                os.truncate(index, count * RECORD.size)
            if good != size:
                os.truncate(data, good)
            size = good
        if not count:
            data.unlink(missing_ok=True)
            index.unlink(missing_ok=True)
            return None
        first, final = RECORD.unpack_from(raw, 0), RECORD.unpack_from(raw, (count - 1) * RECORD.size)
        return Segment(no, (first[0], first[1]), (final[0], final[1]), first[5], final[5] + final[6], count, size)

    # -- facts ------------------------------------------------------------------------------------------

    @property
    def last(self) -> LogKey:
        return self.segments[-1].last if self.segments else (0, 0)

    @property
    def end(self) -> int:
        """The offset after the last chunk: all the run printed, dropped output included."""
        return self.segments[-1].raw_end if self.segments else 0

    @property
    def kept(self) -> int:
        return sum(s.raw_bytes for s in self.segments)

    @property
    def dropped(self) -> int:
        return self.end - self.kept

    # -- writing ----------------------------------------------------------------------------------------

    def add(self, chunks: Iterable[LogChunk], cap_bytes: int, compressor: zstandard.ZstdCompressor) -> int:
        """Appends the chunks after the last one held (the rest are resends); returns the bytes written."""
        written = 0
        data, index = bytearray(), bytearray()
        for c in chunks:
            if (c.attempt, c.seq) <= self.last or not c.data:
                continue
            seg = self._segment_for(cap_bytes, data, index)
            frame = compressor.compress(c.data)
            flags = ZSTD
            if len(frame) >= len(c.data):
                frame, flags = c.data, 0
            stream = STREAMS.index(c.stream) if c.stream in STREAMS else 0
            offset = seg.size + len(data)
            crc = zlib.crc32(frame)
            index += RECORD.pack(
                c.attempt, c.seq, stream, flags, c.time, seg.raw_end, len(c.data), offset, len(frame), crc
            )
            data += frame
            if not seg.count:
                seg.first, seg.raw_start = (c.attempt, c.seq), seg.raw_end
            seg.last, seg.raw_end, seg.count = (c.attempt, c.seq), seg.raw_end + len(c.data), seg.count + 1
            written += len(c.data)
        self._write(data, index)
        self._drop_middle(cap_bytes)
        return written

    def _segment_for(self, cap_bytes: int, data: bytearray, index: bytearray) -> Segment:
        """The segment the next chunk goes to: a new one when the last is full, or ends the head."""
        seg = self.segments[-1] if self.segments else None
        target = max(64 * 1024, min(SEGMENT_MAX_BYTES, cap_bytes // 16))
        head = cap_bytes // 2
        ends_head = seg is not None and seg.raw_start < head <= seg.raw_end
        if seg is not None and seg.raw_bytes < target and seg.count < SEGMENT_MAX_CHUNKS and not ends_head:
            return seg
        if seg is not None:
            self._write(data, index)
            data.clear()
            index.clear()
            self._close_files(sync=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        end = seg.raw_end if seg else 0
        new = Segment((seg.no + 1) if seg else 0, (0, 0), (0, 0), end, end, 0, 0)
        self.segments.append(new)
        return new

    def _write(self, data: bytearray, index: bytearray) -> None:
        """Data before its index records, so a crash between them leaves frames no record names (cut off on
        open), never a record naming no frame."""
        if not index:
            return
        seg = self.segments[-1]
        if self._data is None or self._index is None:
            paths = self._paths(seg.no)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._data, self._index = os.open(paths[0], flags, 0o600), os.open(paths[1], flags, 0o600)
        before = os.fstat(self._index).st_size
        try:
            _write_all(self._data, data)
            _write_all(self._index, index)
        except OSError:  # a full disk: leave the files as they were, and the segment as the files say
            os.ftruncate(self._data, seg.size)
            os.ftruncate(self._index, before)
            self._close_files(sync=False)
            self.segments[-1:] = [s for s in [self._load(seg.no, last=True)] if s is not None]
            raise
        seg.size += len(data)
        self.unsynced += len(data) + len(index)

    def _drop_middle(self, cap_bytes: int) -> None:
        head = cap_bytes // 2
        kept = self.kept
        while kept > cap_bytes:
            tail = [i for i, s in enumerate(self.segments[:-1]) if s.raw_start >= head]
            if not tail:
                return
            gone = self.segments.pop(tail[0])
            kept -= gone.raw_bytes
            for path in self._paths(gone.no):
                path.unlink(missing_ok=True)

    def sync(self) -> None:
        for fd in (self._data, self._index):
            if fd is not None:
                os.fsync(fd)
        self.unsynced = 0

    def _close_files(self, sync: bool) -> None:
        if sync:
            self.sync()
        for fd in (self._data, self._index):
            if fd is not None:
                os.close(fd)
        self._data = self._index = None

    def close(self) -> None:
        self._close_files(sync=True)


class LogFiles:
    """Every run's output under one folder; safe to use from many threads (one lock: appends are short)."""

    def __init__(self, folder: Path, cap_bytes: int) -> None:
        self.folder = folder
        self.cap_bytes = check_cap(cap_bytes)
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._runs: OrderedDict[str, RunLog] = OrderedDict()
        self._compressor = zstandard.ZstdCompressor(level=LEVEL)
        self._synced_at = time.monotonic()

    def _run(self, run_id: str) -> RunLog:
        found = self._runs.get(run_id)
        if found is None:
            if not _RUN_ID.match(run_id):
                raise InvalidArgument(f"{run_id!r} is not a run id")
            found = self._runs[run_id] = RunLog(self.folder / run_id)
            while len(self._runs) > OPEN_RUNS:
                self._runs.popitem(last=False)[1].close()
        self._runs.move_to_end(run_id)
        return found

    # -- writing ----------------------------------------------------------------------------------------

    def add(self, run_id: str, chunks: Iterable[LogChunk]) -> RunLog:
        """Appends chunks not yet held; returns the run's log, for what it now holds and has dropped."""
        with self._lock:
            log = self._run(run_id)
            log.add(chunks, self.cap_bytes, self._compressor)
            now = time.monotonic()
            if now - self._synced_at >= SYNC_S or sum(r.unsynced for r in self._runs.values()) >= SYNC_BYTES:
                for r in self._runs.values():
                    if r.unsynced:
                        r.sync()
                self._synced_at = now
            return log

    def delete(self, run_id: str) -> None:
        with self._lock:
            found = self._runs.pop(run_id, None)
            if found is not None:
                found.close()
            shutil.rmtree(self.folder / run_id, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for log in self._runs.values():
                log.close()
            self._runs.clear()

    # -- reading ----------------------------------------------------------------------------------------

    def _segments(self, run_id: str) -> tuple[RunLog, list[Segment]]:
        with self._lock:
            log = self._run(run_id)
            return log, [replace(s) for s in log.segments]

    def chunks(self, run_id: str, after: LogKey, before: LogKey | None, limit: int, max_bytes: int) -> list[LogChunk]:
        """Chunks after `after` and before `before`, in order: at most `limit`, and no more than the first
        beyond `max_bytes` of output. Each carries its offset."""
        log, segments = self._segments(run_id)
        found: list[LogChunk] = []
        held = 0
        start = bisect.bisect_right([s.last for s in segments], after)
        for seg in segments[start:]:
            records = _Records(log, seg)
            i = records.after(after)
            for chunk in records.read(i, before, limit - len(found), max_bytes - held):
                found.append(chunk)
                held += len(chunk.data)
            if len(found) >= limit or held >= max_bytes or (before is not None and seg.last >= before):
                break
        return found

    def bytes_through(self, run_id: str, through: LogKey | None) -> int:
        """The offset after chunk `through` (or the last one before it, were it dropped); all when None."""
        log, segments = self._segments(run_id)
        if through is None:
            return segments[-1].raw_end if segments else 0
        i = bisect.bisect_right([s.first for s in segments], through) - 1
        if i < 0:
            return 0
        records = _Records(log, segments[i])
        j = records.after(through) - 1
        return records.raw_end(j) if j >= 0 else segments[i].raw_start

    def tail_start(self, run_id: str, tail_bytes: int, before: LogKey | None) -> LogKey:
        """The chunk after which the last `tail_bytes` before `before` begin, in whole chunks (those ending
        past the end less `tail_bytes`); (0, 0) when that is all of it. A tail reaching back past output
        dropped under the cap begins where the kept output resumes."""
        log, segments = self._segments(run_id)
        end = segments[-1].raw_end if segments else 0
        if before is not None:
            i = bisect.bisect_left([s.first for s in segments], before) - 1
            if i < 0:
                return (0, 0)
            segments = segments[: i + 1]
            records = _Records(log, segments[i])
            n = records.after_or_at(before)
            end = records.raw_end(n - 1) if n else segments[i].raw_start
        return self._tail_from(log, segments, end - tail_bytes)

    @staticmethod
    def _tail_from(log: RunLog, segments: list[Segment], target: int) -> LogKey:
        if target <= 0 or not segments:
            return (0, 0)
        i = bisect.bisect_right([s.raw_end for s in segments], target)  # the first segment ending past it
        if i >= len(segments):
            return segments[-1].last
        records = _Records(log, segments[i])
        j = records.first_ending_past(target)
        if j > 0:
            return records.key(j - 1)
        return segments[i - 1].last if i > 0 else (0, 0)


class _Records:
    """One segment's index, read whole (at most SEGMENT_MAX_CHUNKS records), searched by key or offset."""

    def __init__(self, log: RunLog, seg: Segment) -> None:
        self.seg = seg
        self.data_path, index = log._paths(seg.no)
        try:
            with open(index, "rb") as f:
                self.raw = f.read(seg.count * RECORD.size)
        except FileNotFoundError:  # dropped under the cap since the segment list was taken
            self.raw = b""
        self.count = len(self.raw) // RECORD.size

    def record(self, i: int) -> tuple[Any, ...]:
        return RECORD.unpack_from(self.raw, i * RECORD.size)

    def key(self, i: int) -> LogKey:
        r = self.record(i)
        return (r[0], r[1])

    def raw_end(self, i: int) -> int:
        r = self.record(i)
        return r[5] + r[6]

    def after(self, key: LogKey) -> int:
        return bisect.bisect_right(range(self.count), key, key=self.key)

    def after_or_at(self, key: LogKey) -> int:
        return bisect.bisect_left(range(self.count), key, key=self.key)

    def first_ending_past(self, offset: int) -> int:
        return bisect.bisect_right(range(self.count), offset, key=self.raw_end)

    def read(self, i: int, before: LogKey | None, limit: int, max_bytes: int) -> Iterator[LogChunk]:
        """Chunks from record i on, the frames of a span read at once."""
        held = 0
        decompress = zstandard.ZstdDecompressor().decompress
        try:
            f = open(self.data_path, "rb")  # noqa: SIM115  (closed below)
        except FileNotFoundError:
            return
        with f:
            while i < self.count and limit > 0 and held < max_bytes:
                span = [self.record(i)]
                while (
                    i + len(span) < self.count
                    and len(span) < limit
                    and _frame_end(span[-1]) - span[0][7] < READ_SPAN_BYTES
                ):
                    span.append(self.record(i + len(span)))
                blob = os.pread(f.fileno(), _frame_end(span[-1]) - span[0][7], span[0][7])
                for r in span:
                    if before is not None and (r[0], r[1]) >= before:
                        return
                    frame = blob[r[7] - span[0][7] : _frame_end(r) - span[0][7]]
                    data = decompress(frame, max_output_size=r[6]) if r[3] & ZSTD else frame
                    yield LogChunk(r[0], r[1], STREAMS[r[2]] if r[2] < len(STREAMS) else "stdout", data, r[4], r[5])
                    held += r[6]
                    limit -= 1
                    if limit <= 0 or held >= max_bytes:
                        return
                i += len(span)


def _frame_end(r: tuple[Any, ...]) -> int:
    return r[7] + r[8]


def _frame_ok(data: Path, r: tuple[Any, ...], size: int) -> bool:
    if _frame_end(r) > size:
        return False
    with open(data, "rb") as f:
        return zlib.crc32(os.pread(f.fileno(), r[8], r[7])) == r[9]


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
