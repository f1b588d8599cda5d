"""Reading a run's logs for its page, off the GUI thread: following them as they are written, fetching
output from before what is shown, and saving the whole log to a file.

Following: `read_logs(follow=True)` blocks between chunks for as long as the run goes on, so it cannot be one
of the runner's operations (it would hold a pool thread for hours and keep a closing window waiting). It gets
a thread and a connection of its own instead; stopping closes that connection, which cancels the call
wherever it is blocked, and the thread ends at once. The thread emits nothing: it decodes the text and keeps
it, in order, as pieces the page takes on a timer of its own (`take`), a bounded amount at a time, so a
run printing fast costs the GUI one short append per tick rather than a queued signal and an insert per
chunk. When the page falls behind, the thread stops reading until it catches up (the coordinator keeps the
rest): nothing is dropped and memory stays bounded."""

from __future__ import annotations

import codecs
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kiln.client import Client
from kiln.core.runs import LogChunk, dropped_note
from kiln.desktop.ops import brief

LogKey = tuple[int, int]  # a chunk's (attempt, seq)
TAIL_BYTES = 256 * 1024  # what opening a run reads of its log (a few thousand lines): the end; earlier when asked
# The most one piece holds: appending it takes a few milliseconds (Qt spends about 5 µs a line, whatever
# its length, so both count).
PIECE_CHARS = 16 * 1024
PIECE_LINES = 1000
BACKLOG_CHARS = 8 * 1024 * 1024  # text read but not yet shown past which the thread waits for the page


@dataclass
class Piece:
    """Consecutive output of one stream, from the chunk `key` on, whose first byte is `offset` bytes into the
    run's output and which holds `nbytes` bytes of it. A chunk longer than a piece is cut into several
    pieces with its key; the first holds its bytes, the others 0, so pieces of a key belong together."""

    stream: str
    key: LogKey
    offset: int
    nbytes: int
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    lines: int = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Pieces:
    """Turns chunks into pieces, in order: decoding each stream as UTF-8 across chunk boundaries, joining
    consecutive chunks of a stream and cutting long ones."""

    def __init__(self) -> None:
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")}
        self.pieces: deque[Piece] = deque()
        self.end: int | None = None  # where the last chunk ended: a next one starting past it follows a drop

    def add(self, c: LogChunk) -> int:
        """Adds a chunk; returns the characters it brought. Output dropped before it (over the run's log cap:
        its offset lies past the last chunk's end) is marked with a line of its own, in a piece of its key."""
        marked = 0
        if self.end is not None and c.offset > self.end:
            note = "\n" + dropped_note(c.offset - self.end)
            self.pieces.append(Piece("stdout", (c.attempt, c.seq), c.offset, 0, [note], len(note), note.count("\n")))
            marked = len(note)
        self.end = c.offset + len(c.data)
        return marked + self._add(c)

    def _add(self, c: LogChunk) -> int:
        stream = c.stream if c.stream in self.decoders else "stdout"
        text = self.decoders[stream].decode(c.data)
        lines = text.count("\n")
        last = self.pieces[-1] if self.pieces else None
        if (
            last is not None
            and last.stream == stream
            and last.chars + len(text) <= PIECE_CHARS
            and last.lines + lines <= PIECE_LINES
        ):
            last.parts.append(text)
            last.chars, last.lines, last.nbytes = last.chars + len(text), last.lines + lines, last.nbytes + len(c.data)
            return len(text)
        nbytes = len(c.data)
        for part in _cut(text, lines):
            n = part.count("\n")
            self.pieces.append(Piece(stream, (c.attempt, c.seq), c.offset, nbytes, [part], len(part), n))
            nbytes = 0
        return len(text)


def _cut(text: str, lines: int) -> list[str]:
    """`text` in parts of at most PIECE_CHARS characters and PIECE_LINES lines."""
    if len(text) <= PIECE_CHARS and lines <= PIECE_LINES:
        return [text]
    parts: list[str] = []
    rows = text.splitlines(keepends=True)
    for start in range(0, len(rows), PIECE_LINES):
        joined = "".join(rows[start : start + PIECE_LINES])
        parts.extend(joined[i : i + PIECE_CHARS] for i in range(0, len(joined), PIECE_CHARS))
    return parts


def earlier_pieces(client: Client, run_id: str, before: LogKey, nbytes: int) -> list[Piece]:
    """The last `nbytes` (in whole chunks) of the output before chunk `before`, as pieces (runs off the GUI
    thread, through the runner)."""
    pieces = Pieces()
    for c in client.read_logs(run_id, before=before, tail_bytes=nbytes):
        pieces.add(c)
    return list(pieces.pieces)


@dataclass
class LogSave:
    """One saving of a whole log: written by its worker, read by the page's timer to show progress."""

    path: Path
    done_bytes: int = 0


def save_whole_log(client: Client, run_id: str, save: LogSave) -> int:
    """Writes the run's whole output (both streams, in order, as the bytes it printed) to `save.path`, through
    a file beside it renamed into place at the end, so a failed save leaves no half file under that name;
    returns the bytes written."""
    part = save.path.with_name(save.path.name + ".part")
    try:
        with open(part, "wb") as out:
            for c in client.read_logs(run_id):
                out.write(c.data)
                save.done_bytes += len(c.data)
        os.replace(part, save.path)
    finally:
        part.unlink(missing_ok=True)
    return save.done_bytes


class LogFollower:
    """Follows one run's output on a thread of its own. `take()` hands over what was read, in order; once the
    thread has ended and everything was taken, `outcome` says how it ended: "" when the run ended and all of
    its output was read, else what went wrong. It starts at the last TAIL_BYTES of the log (`tail_bytes`),
    and resumes after the last chunk read when started again. Nothing is read after `stop()`."""

    def __init__(self, connect: Callable[[], Client], run_id: str, tail_bytes: int = TAIL_BYTES) -> None:
        self.open_client, self.run_id, self.tail_bytes = connect, run_id, tail_bytes
        self.after: LogKey = (0, 0)  # the last chunk read: a restart resumes after it, nothing is shown twice
        self._lock = threading.Condition()
        self._pieces = Pieces()
        self._backlog = 0  # characters read and not taken
        self._outcome: str | None = None  # set when the thread ends
        self._stopped = False
        self._client: Client | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def backlog(self) -> int:
        """Characters read and not yet taken."""
        return self._backlog

    @property
    def outcome(self) -> str | None:
        """None while following or while read text is still to be taken; then how it ended."""
        with self._lock:
            return self._outcome if not self._pieces.pieces and not self.running else None

    def start(self) -> None:
        """Starts (or, after it ended or was stopped, resumes) following."""
        if self.running:
            if not self._stopped:
                return
            self.wait(2.0)  # stopped a moment ago: its connection is closed, so it ends at once
        with self._lock:
            self._stopped, self._outcome = False, None
        self._thread = threading.Thread(target=self._follow, name=f"logs-{self.run_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cancels the call in flight; the thread then ends by itself (it never waits on the GUI)."""
        with self._lock:
            self._stopped = True
            client, self._client = self._client, None
            self._lock.notify_all()
        if client is not None:
            client.close()

    def wait(self, timeout: float) -> bool:
        """True once the thread has ended (for tests and for a clean exit)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def take(self) -> list[Piece]:
        """The oldest pieces not yet taken, together no larger than one piece may be (at least one, if any):
        a few milliseconds of appending."""
        taken: list[Piece] = []
        with self._lock:
            queue, chars, lines = self._pieces.pieces, 0, 0
            while queue and (
                not taken or (chars + queue[0].chars <= PIECE_CHARS and lines + queue[0].lines <= PIECE_LINES)
            ):
                piece = queue.popleft()
                taken.append(piece)
                chars, lines = chars + piece.chars, lines + piece.lines
            self._backlog -= chars
            self._lock.notify_all()
        return taken

    def _follow(self) -> None:
        outcome, client = "", None
        try:
            client = self.open_client()
            with self._lock:
                if self._stopped:
                    return
                self._client = client
            tail = self.tail_bytes if self.after == (0, 0) else 0
            self._read(client.read_logs(self.run_id, follow=True, after=self.after, tail_bytes=tail))
        except Exception as e:  # the connection closed by stop(), or a real failure to say
            outcome = brief(e)  # shown in the run page's line: a lost connection is the banner's to tell
        finally:
            with self._lock:
                if self._client is client:
                    self._client = None
                self._outcome = outcome
            if client is not None:
                client.close()  # closing twice (here and in stop) is harmless

    def _read(self, chunks: Iterable[LogChunk]) -> None:
        for c in chunks:
            with self._lock:
                if self._stopped:
                    return
                self.after = (c.attempt, c.seq)
                self._backlog += self._pieces.add(c)
                while self._backlog > BACKLOG_CHARS and not self._stopped:
                    self._lock.wait(0.5)  # the page is behind: let it catch up before reading on
