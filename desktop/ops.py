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
    said_by_page: bool = False  # its page shows its failures where they happened (a refused filter under
    # the box): the window does not repeat them in its status bar (a lost connection still gets the banner)


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


@dataclass(eq=False)
class _Task:
    """One start of an Op, from the pool until its outcome is delivered: what the runner keeps, rather
    than the QRunnable, which Qt deletes once it has run."""

    op: Op


class _Job(QRunnable):
    """Runs one task on a pool thread and hands the outcome back through the runner's queued signal.

    Qt deletes it once run() returns (autoDelete, the default): a QRunnable kept with autoDelete off is
    never released by the binding, so each operation (its callbacks and its result with it) would stay
    in memory for the life of the app."""

    def __init__(self, runner: Runner, task: _Task) -> None:
        super().__init__()
        self.runner = runner
        self.task: _Task | None = task

    def run(self) -> None:
        # The binding may keep this wrapper until its pool thread runs another job or expires (30 s):
        # let go of the task now, so the operation is freed once its outcome is delivered.
        task, self.task = self.task, None
        assert task is not None  # run() runs once
        op = task.op
        try:
            value, ok = op.work(), True
        except Exception as e:  # every error reaches a callback, never the thread's top
            if not isinstance(e, KilnError):
                log.error("%s failed", op.label, exc_info=e)
            value, ok = e, False
        try:
            self.runner._finished.emit(task, ok, value)
        except RuntimeError:  # the runner's window was deleted meanwhile: say so rather than vanish
            log.warning("%s ended after its window was closed; its outcome was not shown", op.label)


class Runner(QObject):
    """Starts operations for one window and delivers their outcomes on the GUI thread."""

    failed = Signal(object, object)  # (Op, Exception), after the op's own on_failure
    succeeded = Signal(object)  # Op
    idle = Signal()  # the last operation in flight has been delivered
    _finished = Signal(object, bool, object)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._tasks: set[_Task] = set()  # started and not yet delivered; touched on the GUI thread only
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def running(self, op: Op) -> bool:
        """Whether `op` is in flight: a periodic refresh skips a tick rather than pile up behind a slow
        coordinator (each tick reuses one Op, so a lost connection also shows it once, not once a tick)."""
        return any(task.op is op for task in self._tasks)

    def labels(self) -> list[str]:
        """What is in flight, in words, for a window that is asked to close meanwhile."""
        return sorted(task.op.label for task in self._tasks)

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
        task = _Task(op)
        self._tasks.add(task)
        self.pool.start(_Job(self, task))
        return op

    def _deliver(self, task: _Task, ok: bool, value: Any) -> None:
        self._tasks.discard(task)
        try:
            self._settle(task.op, ok, value)
        finally:
            if not self._tasks:
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
