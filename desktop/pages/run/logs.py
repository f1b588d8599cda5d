"""Following a run's logs as they are written: `read_logs(follow=True)` blocks between chunks for as long as
the run goes on, so it cannot be one of the runner's operations (it would hold a pool thread for hours and
keep a closing window waiting). It gets a thread and a connection of its own instead; stopping closes that
connection, which cancels the call wherever it is blocked, and the thread ends at once."""

from __future__ import annotations

import codecs
import logging
import threading
from collections.abc import Callable
from typing import Any

from kiln.client import Client
from kiln.desktop.ops import describe
from kiln.desktop.qt import QObject, Qt, Signal

log = logging.getLogger(__name__)


class LogFollower(QObject):
    """Emits `chunk(stream, text)` for each piece of output, in order, then `ended(str)` once: "" when
    the run has ended and everything was read, else what went wrong. Nothing is emitted after `stop()`."""

    chunk = Signal(str, str)
    ended = Signal(str)
    _chunk = Signal(str, str)  # from the thread; re-emitted on the GUI thread unless stopped meanwhile
    _ended = Signal(str)

    def __init__(self, connect: Callable[[], Client], run_id: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.open_client, self.run_id = connect, run_id
        self.after = (0, 0)  # the last chunk read: a restart resumes after it, nothing is shown twice
        self._lock = threading.Lock()
        self._stopped = False
        self._client: Client | None = None
        self._thread: threading.Thread | None = None
        queued = Qt.ConnectionType.QueuedConnection
        self._chunk.connect(self._deliver_chunk, queued)
        self._ended.connect(self._deliver_end, queued)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Starts (or, after it ended, resumes) following."""
        if self.running:
            if not self._stopped:
                return
            self.wait(2.0)  # stopped a moment ago: its connection is closed, so it ends at once
        self._stopped = False
        self._thread = threading.Thread(target=self._follow, name=f"logs-{self.run_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cancels the call in flight; the thread then ends by itself (it never waits on the GUI)."""
        with self._lock:
            self._stopped = True
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def wait(self, timeout: float) -> bool:
        """True once the thread has ended (for tests and for a clean exit)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _deliver_chunk(self, stream: str, text: str) -> None:
        if not self._stopped:  # stop() runs on this (the GUI) thread: nothing slips past it
            self.chunk.emit(stream, text)

    def _deliver_end(self, outcome: str) -> None:
        if not self._stopped:
            self.ended.emit(outcome)

    def _follow(self) -> None:
        decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")}
        outcome, client = "", None
        try:
            client = self.open_client()
            with self._lock:
                if self._stopped:
                    return
                self._client = client
            for c in client.read_logs(self.run_id, follow=True, after=self.after):
                self.after = (c.attempt, c.seq)
                decoder = decoders.get(c.stream, decoders["stdout"])
                self._emit(self._chunk, c.stream, decoder.decode(c.data))
        except Exception as e:  # the connection closed by stop(), or a real failure to say
            outcome = describe(e)
        finally:
            with self._lock:
                if self._client is client:
                    self._client = None
            if client is not None:
                client.close()  # closing twice (here and in stop) is harmless
        self._emit(self._ended, outcome)

    def _emit(self, signal: Any, *args: object) -> None:
        if self._stopped:
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # the page was deleted meanwhile: nobody is left to tell
            log.debug("logs of %s arrived after their page closed", self.run_id)
