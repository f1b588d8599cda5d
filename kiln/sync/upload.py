"""Uploading while hashing: each file the scan reads is offered to the coordinator as soon as it is hashed,
in batches, and what the project lacks streams up at once over one upload call, so the disk, the hashing
and the network work side by side instead of one after the other."""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

from kiln.client import Client
from kiln.core.blobparts import BlobPart, pack
from kiln.core.errors import KilnError
from kiln.sync.progress import Reporter
from kiln.sync.walk import LocalEntry

# A batch is asked about once it holds this many blobs or bytes (or the scan is over); one question
# covers at most MAX_BATCH blobs, far below the coordinator's limit on one FindMissingBlobs.
MIN_BATCH = 256
MIN_BATCH_BYTES = 8 * 1024**2
MAX_BATCH = 4096
# The bytes of small files kept from hashing until they are sent, at most; past it, a file is read again.
KEPT_BUDGET = 64 * 1024**2

Opener = Callable[[LocalEntry, str], BinaryIO]
Offer = tuple[LocalEntry, str, bytes | None]


class Uploader:
    """Takes (entry, digest) offers from any thread while a scan runs; the upload call starts with the
    first offer. `finish` waits for the rest and returns the bytes the coordinator received, or raises
    what went wrong, the reason a file could not be read first (gRPC only sees a cancelled call).

    An offer may come with the bytes that were hashed: those are what is sent (no second read, no second
    hash; the coordinator verifies them), within KEPT_BUDGET; other files are opened with `opener`,
    which checks them against the scan as they are read."""

    def __init__(self, client: Client, project: str, opener: Opener) -> None:
        self._client, self._project, self._opener = client, project, opener
        self._queue: queue.SimpleQueue[Offer | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._sent: set[str] = set()  # digests already in this stream
        self._reporter: Reporter | None = None
        self._failure: BaseException | None = None
        self._read_failure: KilnError | None = None
        self.offered_bytes = self.sent_bytes = self.uploaded = self.kept_bytes = 0

    def offer(self, entry: LocalEntry, digest: str, data: bytes | None = None) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="kiln-upload", daemon=True)
                    self._thread.start()
        with self._lock:
            self.offered_bytes += entry.size
            if data is not None:
                if self.kept_bytes + len(data) > KEPT_BUDGET:
                    data = None
                else:
                    self.kept_bytes += len(data)
        self._queue.put((entry, digest, data))

    def finish(self, reporter: Reporter) -> int:
        """No more offers: reports the upload still to come as its own phase and waits for it."""
        if self._thread is None:
            return 0
        reporter.phase("uploading", max(0, self.offered_bytes - self.sent_bytes))
        self._reporter = reporter
        self._queue.put(None)
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self.uploaded

    def abandon(self) -> None:
        """Ends the upload if `finish` was not reached (the scan or a call failed); what was verified stays
        on the coordinator, and errors are dropped: the one on its way is the one to tell."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            self.uploaded = self._client.upload_blobs(self._project, self._messages())[1]
        except KilnError as e:
            self._failure = self._read_failure or e
        except BaseException as e:  # handed to the thread that waits in finish()
            self._failure = self._read_failure or e

    def _batches(self) -> Iterator[list[Offer]]:
        """Offers grouped as they come: at least MIN_BATCH blobs or MIN_BATCH_BYTES unless the scan ended,
        then whatever else is already waiting, up to MAX_BATCH."""
        ended = False
        while not ended:
            batch: list[Offer] = []
            size = 0
            while len(batch) < MAX_BATCH:
                if len(batch) < MIN_BATCH and size < MIN_BATCH_BYTES:
                    item = self._queue.get()
                else:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if item is None:
                    ended = True
                    break
                batch.append(item)
                size += item[0].size
            if batch:
                yield batch

    def _messages(self) -> Iterator[list[BlobPart]]:
        try:
            for batch in self._batches():
                try:
                    yield from self._batch_messages(batch)
                finally:  # the batch's kept bytes are sent or not needed: room for more
                    with self._lock:
                        self.kept_bytes -= sum(len(data) for _, _, data in batch if data is not None)
        except KilnError as e:
            self._read_failure = e
            raise

    def _batch_messages(self, batch: list[Offer]) -> Iterator[list[BlobPart]]:
        """Asks which of a batch's blobs the project lacks, and streams those."""
        entries: dict[str, tuple[LocalEntry, bytes | None]] = {}
        for e, d, data in batch:
            if d not in self._sent and (d not in entries or entries[d][1] is None):
                entries[d] = (e, data)
        if not entries:
            return
        offered = [(d, e.size) for d, (e, _) in entries.items()]
        missing = self._client.find_missing_blobs(self._project, offered)
        self._sent.update(entries)
        sources = ((d, _source(self._opener, *entries[d], d)) for d in missing)
        for m in pack(sources):
            yield m
            sent = sum(len(p.data) for p in m)
            self.sent_bytes += sent
            if self._reporter is not None:
                self._reporter.advance(sent)


def _source(opener: Opener, entry: LocalEntry, data: bytes | None, digest: str) -> bytes | Callable[[], BinaryIO]:
    """What `pack` sends for a blob: the bytes kept from hashing, or the file opened when its turn comes."""
    return data if data is not None else functools.partial(opener, entry, digest)
