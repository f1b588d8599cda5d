"""Blob parts: how blob bytes travel, packed into messages of about one chunk, in both directions."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from kiln.core.defaults import CHUNK_BYTES


@dataclass(frozen=True)
class BlobPart:
    digest: str
    offset: int
    data: bytes
    last: bool


Source = Callable[[], BinaryIO] | bytes  # a blob to open when its turn comes, or its bytes


def pack(blobs: Iterable[tuple[str, Source]], chunk: int = CHUNK_BYTES) -> Iterator[list[BlobPart]]:
    """Messages of consecutive parts of each blob (opened lazily, in order), each about `chunk` bytes:
    many small blobs share a message, a large one spans several."""
    batch: list[BlobPart] = []
    room = chunk
    for digest, opener in blobs:
        if isinstance(opener, bytes) and len(opener) <= room:  # the usual small blob: one part, no file
            batch.append(BlobPart(digest, 0, opener, True))
            room -= len(opener)
            if room <= 0:
                yield batch
                batch, room = [], chunk
            continue
        with io.BytesIO(opener) if isinstance(opener, bytes) else opener() as f:
            offset = 0
            data = f.read(room)
            while True:
                # A full read may have ended exactly at the end of the file: look ahead to know.
                ahead = f.read(chunk) if len(data) == room else b""
                last = not ahead
                batch.append(BlobPart(digest, offset, data, last))
                offset += len(data)
                room -= len(data)
                if room <= 0:
                    yield batch
                    batch, room = [], chunk
                if last:
                    break
                data = ahead
    if batch:
        yield batch
