"""The connection to the agent: one daemon thread that sends numbered batches over the Unix socket, reads
the agent's acknowledgements, and forgets a batch only once it is acknowledged. When the socket drops it
reconnects with a short, jittered backoff and resends every unacknowledged batch in order; the agent
drops repeats by seq, so resending is always safe. Logging calls never wait on any of this."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import select
import socket
import sys
import threading
import time
from collections.abc import Callable

# How often buffered items are cut into a batch and sent.
INTERVAL_S = 0.1
# A send that makes no progress for this long counts as a dropped connection (then: reconnect, resend).
SEND_TIMEOUT_S = 30.0
FIRST_RETRY_S = 0.05
MAX_RETRY_S = 2.0
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)  # EPIPE as an error, never a SIGPIPE to the user's process


class TrackingError(Exception):
    """What was logged could not be confirmed as recorded by the agent (see the message for why)."""


class Link:
    def __init__(self, path: str, cut: Callable[[], int]) -> None:
        """`cut` moves everything buffered into batches (handing them to `submit`) and returns the last
        seq assigned; the link calls it every INTERVAL_S and whenever it is woken."""
        self.path = path
        self._cut = cut
        self._cond = threading.Condition(threading.Lock())
        self._pending: collections.deque[tuple[int, bytes]] = collections.deque()  # (seq, line), ascending seq
        self._acked = 0
        self._sent = 0  # the highest seq written to the current connection
        self._sock: socket.socket | None = None
        self._inbox = b""
        self._retry_at = 0.0
        self._retry_s = FIRST_RETRY_S
        self.last_error = ""
        self._told: set = set()  # agent error messages already shown on stderr
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="kiln.track", daemon=True)
        self._thread.start()

    # -- called from any thread ---------------------------------------------------------------------------

    def submit(self, seq: int, line: bytes) -> None:
        with self._cond:
            self._pending.append((seq, line))

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # the pipe is full: a wake-up is already on its way
            os.write(self._wake_w, b"x")

    def wait(self, seq: int, timeout: float) -> None:
        """Blocks until batch `seq` (and every one before it) is acknowledged."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._acked < seq:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    unacked = sum(1 for s, _ in self._pending if s <= seq)
                    why = f": {self.last_error}" if self.last_error else ""
                    raise TrackingError(
                        f"kiln.track: {unacked} batch(es) not acknowledged by the agent at {self.path} "
                        f"after {timeout:g}s{why}; they are kept and resent while this process lives"
                    )
                self._cond.wait(left)

    def forget(self) -> None:
        """In a forked child: drops the parent's descriptors; the parent's thread does not exist here."""
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()

    # -- the link's own thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        next_cut = time.monotonic() + INTERVAL_S
        while True:
            now = time.monotonic()
            if now >= next_cut:
                self._safe_cut()
                next_cut = now + INTERVAL_S
            if self._sock is None and now >= self._retry_at:
                self._connect()
            if self._sock is not None:
                self._send()
            watch: list[socket.socket | int] = [self._wake_r]
            timeout = next_cut - time.monotonic()
            if self._sock is not None:
                watch.append(self._sock)
            else:
                timeout = min(timeout, self._retry_at - time.monotonic())
            ready, _, _ = select.select(watch, [], [], max(0.0, timeout))
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
                self._safe_cut()
            if self._sock is not None and self._sock in ready:
                self._receive()

    def _safe_cut(self) -> None:
        try:
            self._cut()
        except Exception as e:  # the link must outlive any bug in batching; say so once
            self._tell(f"kiln.track: could not prepare a batch: {type(e).__name__}: {e}")

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(SEND_TIMEOUT_S)
        try:
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            self._dropped(f"cannot connect: {e}")
            return
        self._sock, self._sent, self._inbox = sock, 0, b""

    def _send(self) -> None:
        with self._cond:
            lines = [(s, line) for s, line in self._pending if s > self._sent]
        try:
            for seq, line in lines:
                assert self._sock is not None
                self._sock.sendall(line, _NOSIGNAL)
                self._sent = seq
        except OSError as e:
            self._dropped(f"connection lost while sending: {e}")

    def _receive(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(65536)
        except OSError as e:
            self._dropped(f"connection lost: {e}")
            return
        if not data:
            self._dropped("the agent closed the connection")
            return
        *lines, self._inbox = (self._inbox + data).split(b"\n")
        for line in lines:
            self._answer(line)

    def _answer(self, line: bytes) -> None:
        try:
            answer = json.loads(line)
            ack = answer.get("ack")
        except (ValueError, AttributeError):
            self._tell(f"kiln.track: unreadable answer from the agent: {line[:200]!r}")
            return
        if isinstance(ack, int):
            with self._cond:
                self._acked = max(self._acked, ack)
                while self._pending and self._pending[0][0] <= ack:
                    self._pending.popleft()
                self._cond.notify_all()
            self._retry_s = FIRST_RETRY_S
        elif "error" in answer:
            self.last_error = f"the agent answered: {answer['error']}"
            self._tell(f"kiln.track: {self.last_error}")

    def _dropped(self, why: str) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._sent, self._inbox = None, 0, b""
        self.last_error = why
        self._retry_at = time.monotonic() + random.uniform(self._retry_s / 2, self._retry_s)
        self._retry_s = min(MAX_RETRY_S, self._retry_s * 2)
        with self._cond:  # a flush waiting on a dead agent should see why, not wait in silence
            self._cond.notify_all()

    def _tell(self, message: str) -> None:
        if message not in self._told:
            self._told.add(message)
            sys.stderr.write(message + "\n")


def ask(path: str, question: dict, timeout: float) -> tuple[dict | None, str]:
    """Asks the agent one question on a connection of its own (the batches' connection belongs to the
    link's thread) and returns (answer, ""), or (None, why) when no answer came."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps(question).encode("utf-8") + b"\n", _NOSIGNAL)
            with sock.makefile("rb") as stream:
                line = stream.readline()
    except OSError as e:  # socket.timeout is an OSError too
        return None, f"no answer from the agent at {path}: {e or 'timed out'}"
    if not line:
        return None, "the agent closed the connection without answering"
    try:
        answer = json.loads(line)
    except ValueError:
        return None, f"unreadable answer from the agent: {line[:200]!r}"
    if not isinstance(answer, dict):
        return None, f"unreadable answer from the agent: {line[:200]!r}"
    return answer, ""
