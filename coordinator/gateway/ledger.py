"""The prediction ledger's local spool: every request the gateway answers is written here before the answer
leaves, and shipped to the coordinator in batches afterwards.

Durability without an fsync per request: each record is one `os.write` of one framed record to a file
opened with O_APPEND, so once the write returns the record is in the kernel's page cache and survives a
kill -9 of the gateway (only a power cut can lose it, and the file is fsynced at most once a second to
bound that). A frame is `MAGIC, length, crc32, body`; a record cut short by a crash (or a bad sector) fails
its length or checksum and is skipped, never shipped as garbage.

The spool is a folder of numbered segments. A gateway process only ever appends to a segment it created
(one per process, rotated at SEGMENT_BYTES), so a torn record can only be the last of a segment some
earlier process left. The shipper reads from a cursor (segment, offset), sends up to BATCH_RECORDS to
`backend.record`, and only once that returned moves the cursor, written atomically (temp file, fsync,
rename); segments wholly behind the cursor are deleted. Shipping is thus at least once: a gateway killed
between `record` returning and the cursor landing sends those records again, which is why the backend
keeps records idempotent by id. A lock file keeps two live gateways off one spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

from kiln.core import defaults
from kiln.core.atomic import atomic_write
from kiln.core.backoff import delays
from kiln.core.deployments import MAX_CAPTURE_BYTES, PredictionRecord

from .backend import GatewayBackend

log = logging.getLogger("kiln.coordinator.gateway.ledger")

MAGIC = b"KLR1"
_HEAD = struct.Struct(">4sII")  # magic, body length, crc32 of the body
_META = struct.Struct(">II")  # meta JSON length, captured request length (the captured answer is the rest)
SEGMENT_BYTES = 64 * 1024 * 1024
BATCH_RECORDS = 1000
BATCH_BYTES = 16 * 1024 * 1024  # well under one gRPC message (kiln.core.defaults.MAX_MESSAGE_BYTES)
SYNC_EVERY_S = 1.0
_MAX_FRAME = 2 * MAX_CAPTURE_BYTES + 64 * 1024  # anything longer is a damaged length, not a record
_WINDOW = 1024 * 1024  # read at a time by the shipper (more than one frame: a whole record always fits)
_CURSOR = "shipped.json"
_META_FIELDS = tuple(f.name for f in fields(PredictionRecord) if f.name not in ("request", "response"))


def clip(request: bytes, response: bytes) -> tuple[bytes, bytes, bool]:
    """The parts of a request and its answer the ledger keeps, and whether anything was cut."""
    cut = len(request) > MAX_CAPTURE_BYTES or len(response) > MAX_CAPTURE_BYTES
    return request[:MAX_CAPTURE_BYTES], response[:MAX_CAPTURE_BYTES], cut


def encode(record: PredictionRecord) -> bytes:
    meta = {name: getattr(record, name) for name in _META_FIELDS}  # not asdict: it deep-copies, 10x slower
    request, response = record.request, record.response
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
    body = b"".join((_META.pack(len(meta_bytes), len(request)), meta_bytes, request, response))
    return _HEAD.pack(MAGIC, len(body), zlib.crc32(body)) + body


# What decode_all says about the bytes at an offset.
WHOLE = "whole"  # a record
UNREADABLE = "unreadable"  # a whole frame whose record cannot be read (written by another version?): skipped
SHORT = "short"  # the beginning of a frame, cut short (the window ended, or a crash did)
DAMAGED = "damaged"  # no frame at all: wrong magic, length or checksum


def decode_all(data: bytes) -> Iterator[tuple[int, PredictionRecord | None, str]]:
    """(offset after, record, WHOLE) for each record in `data`, (offset after, None, UNREADABLE) for a frame
    whose record cannot be read; then, when bytes are left that are no frame, one (offset where they begin,
    None, SHORT or DAMAGED)."""
    at = 0
    while at < len(data):
        if len(data) - at < _HEAD.size:
            yield at, None, SHORT
            return
        magic, length, crc = _HEAD.unpack_from(data, at)
        if magic != MAGIC or length > _MAX_FRAME:
            yield at, None, DAMAGED
            return
        body = data[at + _HEAD.size : at + _HEAD.size + length]
        if len(body) < length:
            yield at, None, SHORT
            return
        if zlib.crc32(body) != crc:
            yield at, None, DAMAGED
            return
        at += _HEAD.size + length
        try:
            meta_len, request_len = _META.unpack_from(body)
            meta = json.loads(body[_META.size : _META.size + meta_len])
            rest = body[_META.size + meta_len :]
            record = PredictionRecord(**meta, request=rest[:request_len], response=rest[request_len:])
        except (struct.error, ValueError, TypeError) as e:
            log.error("skipping a ledger record this gateway cannot read: %s", e)
            yield at, None, UNREADABLE
            continue
        yield at, record, WHOLE


def _segment(folder: Path, number: int) -> Path:
    return folder / f"segment-{number:012d}.log"


def _segments(folder: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in folder.glob("segment-*.log"))


class SpoolBusy(Exception):
    """Another live gateway holds this spool folder."""


class Spool:
    """Appends records (from the event loop's thread) and ships them (a task on the same loop)."""

    def __init__(self, folder: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # captured requests may be confidential
        self._lock = os.open(folder / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(self._lock)
            raise SpoolBusy(f"another gateway is using the spool folder {folder}; give each gateway its own") from e
        self.cursor = self._read_cursor()
        existing = _segments(folder)
        self.number = max([*existing, self.cursor[0]]) + 1
        self._fd = self._open(self.number)
        self.written = 0  # bytes of the current segment whose records are whole
        self._retired: list[int] = []  # descriptors of rotated segments, closed after their last fsync
        self._dirty = False
        self._unshipped = 0
        self._wake = asyncio.Event()
        self.appended = 0
        self.shipped = 0

    def _open(self, number: int) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        return os.open(_segment(self.folder, number), flags, 0o600)

    def _read_cursor(self) -> tuple[int, int]:
        try:
            saved = json.loads((self.folder / _CURSOR).read_text())
            return int(saved["segment"]), int(saved["offset"])
        except FileNotFoundError:
            return 0, 0

    def append(self, record: PredictionRecord) -> None:
        """Writes one record; once this returns, the record outlives the process. Raises OSError when the
        disk refuses it (the caller then answers 503 rather than answer unrecorded)."""
        frame = encode(record)
        written = os.write(self._fd, frame)
        if written != len(frame):  # disk full mid-record: the segment ends torn, the next starts clean
            self._rotate()
            raise OSError(f"the spool folder {self.folder} took only {written} of {len(frame)} bytes")
        self.written += written
        self._dirty = True
        self.appended += 1
        self._unshipped += 1
        if self._unshipped >= BATCH_RECORDS:
            self._wake.set()
        if self.written >= self.segment_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._retired.append(self._fd)
        self.number += 1
        self._fd = self._open(self.number)
        self.written = 0
        self._dirty = True

    async def sync(self) -> None:
        """fsyncs what was written since the last sync, off the loop (a sync can take milliseconds)."""
        if not self._dirty:
            return
        self._dirty = False
        fds, self._retired = [os.dup(self._fd), *self._retired], []
        await asyncio.to_thread(_sync_and_close, fds)

    async def sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY_S)
            try:
                await self.sync()
            except OSError as e:
                log.error("cannot fsync the spool in %s: %s", self.folder, e)

    def _read(
        self, cursor: tuple[int, int], current: int, written: int
    ) -> tuple[list[PredictionRecord], tuple[int, int]]:
        """Up to a batch of records from `cursor`, and the cursor after them. Runs in a worker thread:
        `current`/`written` are the writer's position, taken on the loop, so a record being appended is
        never read half-written."""
        records: list[PredictionRecord] = []
        size = 0
        number, offset = cursor
        while len(records) < BATCH_RECORDS and size < BATCH_BYTES:
            path = _segment(self.folder, number)
            if number != current and not path.exists():  # shipped and deleted, or never made
                number, offset = min([n for n in _segments(self.folder) if n > number] + [current]), 0
                continue
            with open(path, "rb") as f:
                end = written if number == current else os.fstat(f.fileno()).st_size
                f.seek(offset)
                data = f.read(min(end - offset, _WINDOW))
            used, stop = 0, ""
            for after, record, state in decode_all(data):
                if state == UNREADABLE:
                    used = after
                    continue
                if record is None:
                    stop = state
                    break
                records.append(record)
                size += len(record.request) + len(record.response) + 256
                used = after
                if len(records) >= BATCH_RECORDS or size >= BATCH_BYTES:
                    break
            torn = stop == DAMAGED or (stop == SHORT and offset + len(data) == end)
            offset += used
            if torn:  # a crash mid-write (the last record of a closed segment) or damage: the rest goes
                log.warning(
                    "skipping %d bytes that are no whole record at offset %d of %s", end - offset, offset, path.name
                )
                offset = end
            if offset < end:
                continue  # the next window of this segment, unless the batch is full
            if number == current:
                break
            number, offset = number + 1, 0  # the next one may be gone (deleted): see above
        return records, (number, offset)

    async def ship_once(self, backend: GatewayBackend) -> int:
        """Ships one batch; returns how many records it sent (raises when the backend refused them)."""
        self._unshipped = 0
        records, cursor = await asyncio.to_thread(self._read, self.cursor, self.number, self.written)
        if records:
            await backend.record(records)
        if cursor != self.cursor:
            await asyncio.to_thread(self._advance, cursor)
        self.shipped += len(records)
        return len(records)

    def _advance(self, cursor: tuple[int, int]) -> None:
        data = json.dumps({"segment": cursor[0], "offset": cursor[1]}).encode()
        atomic_write(self.folder / _CURSOR, data, mode=0o600)
        self.cursor = cursor
        for number in _segments(self.folder):
            if number < cursor[0] and number != self.number:
                _segment(self.folder, number).unlink(missing_ok=True)

    async def ship_forever(self, backend: GatewayBackend) -> None:
        """Ships batches as they fill or GATEWAY_SHIP_EVERY_S; on failure backs off and sends the same records
        again (nothing is dropped). Starts with whatever an earlier gateway left."""
        backoff = delays(first=defaults.GATEWAY_SHIP_EVERY_S, cap=10.0)
        while True:
            try:
                sent = await self.ship_once(backend)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("cannot ship predictions to the ledger (will retry): %s", e)
                await asyncio.sleep(next(backoff))
                continue
            backoff = delays(first=defaults.GATEWAY_SHIP_EVERY_S, cap=10.0)
            if sent >= BATCH_RECORDS:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), defaults.GATEWAY_SHIP_EVERY_S)
            self._wake.clear()

    async def drain(self, backend: GatewayBackend, timeout_s: float) -> None:
        """Ships what is left, for at most `timeout_s` (a stopping gateway; what remains waits for the next)."""
        try:
            async with asyncio.timeout(timeout_s):
                while await self.ship_once(backend):
                    pass
        except Exception as e:  # the next gateway on this spool ships it
            log.info("left unshipped predictions in %s: %s", self.folder, e or type(e).__name__)

    def close(self) -> None:
        for fd in [self._fd, *self._retired]:
            os.fsync(fd)
            os.close(fd)
        self._retired = []
        os.close(self._lock)


def _sync_and_close(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
