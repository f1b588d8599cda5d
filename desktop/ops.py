"""Work off the GUI thread: every slow call (the network, the disk) leaves through `Runner.run`.

Like Anki's QueryOp/CollectionOp: the caller gives the work and what to do with its result or its error;
the work runs on a QThreadPool worker and both callbacks run on the GUI thread, delivered by a queued
signal. Nothing is cancelled or dropped silently: every operation ends in exactly one callback, every
failure is also announced by `failed` (the main window turns a lost connection into a banner with a retry
and anything else into a message), and a window that closes waits for what it started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln.core.errors import KilnError, Unavailable
from kiln.desktop.qt import QObject, QRunnable, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)

Success = Callable[[Any], object]  # what it returns is not used
Failure = Callable[[Exception], None]


@dataclass(eq=False)
class Op:
    """One operation, kept whole so a failed one can be run again exactly as it was asked for."""

    label: str
    work: Callable[[], Any]
    on_success: Success | None = None
    on_failure: Failure | None = None
    attempts: int = 0


def describe(error: BaseException) -> str:
    """The words shown to a person: a KilnError's message says what to do; anything else is a bug, whose
    traceback goes to the log rather than into the window."""
    if isinstance(error, KilnError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def brief(error: BaseException) -> str:
    """A short form for a page's own status line: a lost connection is told in full by the banner."""
    if isinstance(error, Unavailable):
        return "the coordinator cannot be reached"
    return describe(error)


class _Job(QRunnable):
    """Runs one Op on a pool thread and hands the outcome back through the runner's queued signal."""

    def __init__(self, runner: Runner, op: Op) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps it until the outcome is delivered
        self.runner, self.op = runner, op

    def run(self) -> None:
        try:
            value, ok = self.op.work(), True
        except Exception as e:  # every error reaches a callback, never the thread's top
            if not isinstance(e, KilnError):
                log.error("%s failed", self.op.label, exc_info=e)
            value, ok = e, False
        try:
            self.runner._finished.emit(self, ok, value)
        except RuntimeError:  # the runner's window was deleted meanwhile: say so rather than vanish
            log.warning("%s ended after its window was closed; its outcome was not shown", self.op.label)


class Runner(QObject):
    """Starts operations for one window and delivers their outcomes on the GUI thread."""

    failed = Signal(object, object)  # (Op, Exception), after the op's own on_failure
    succeeded = Signal(object)  # Op
    idle = Signal()  # the last operation in flight has been delivered
    _finished = Signal(object, bool, object)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._jobs: set[_Job] = set()  # touched on the GUI thread only
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def running(self, op: Op) -> bool:
        """Whether `op` is in flight: a periodic refresh skips a tick rather than pile up behind a slow
        coordinator (each tick reuses one Op, so a lost connection also shows it once, not once a tick)."""
        return any(job.op is op for job in self._jobs)

    def labels(self) -> list[str]:
        """What is in flight, in words, for a window that is asked to close meanwhile."""
        return sorted(job.op.label for job in self._jobs)

    def run(
        self,
        label: str,
        work: Callable[[], Any],
        on_success: Success | None = None,
        on_failure: Failure | None = None,
    ) -> Op:
        """Runs `work()` off the GUI thread; `label` names it in messages ("push", "list projects")."""
        return self.start(Op(label, work, on_success, on_failure))

    def start(self, op: Op) -> Op:
        """Starts `op` (again, for a retry: same work, same callbacks)."""
        op.attempts += 1
        job = _Job(self, op)
        self._jobs.add(job)
        self.pool.start(job)
        return op

    def _deliver(self, job: _Job, ok: bool, value: Any) -> None:
        self._jobs.discard(job)
        try:
            self._settle(job.op, ok, value)
        finally:
            if not self._jobs:
                self.idle.emit()

    def _settle(self, op: Op, ok: bool, value: Any) -> None:
        callback = op.on_success if ok else op.on_failure
        try:
            if callback:
                callback(value)
        except Exception as e:  # a bug in a callback: said in the window, traceback to the log
            log.error("handling the outcome of %s failed", op.label, exc_info=e)
            ok, value = False, e
        if ok:
            self.succeeded.emit(op)
        else:
            self.failed.emit(op, value)
