"""The one helper for work off the GUI thread: outcomes arrive on the GUI thread, errors become words,
and a failed operation can be run again as it was."""

from __future__ import annotations

import threading

from kiln.core.errors import NotFound
from kiln.desktop.ops import Runner, describe
from kiln.desktop.qt import QTimer
from tests.desktop.conftest import WAIT_MS, Leaks, wait_idle


def test_results_and_errors_are_delivered_on_the_gui_thread(qtbot):
    runner = Runner()
    seen: list[tuple[str, object, bool]] = []
    gui = threading.get_ident()

    def record(kind: str):
        return lambda value: seen.append((kind, value, threading.get_ident() == gui))

    def worker_thread_id() -> int:
        return threading.get_ident()

    def missing() -> None:
        raise NotFound("no such project 'x'")

    with qtbot.waitSignal(runner.idle, timeout=WAIT_MS):
        runner.run("where", worker_thread_id, record("ok"))
        runner.run("find x", missing, None, record("error"))
    by_kind = {kind: (value, on_gui) for kind, value, on_gui in seen}
    assert by_kind["ok"][0] != gui and by_kind["ok"][1]  # worked elsewhere, answered here
    assert isinstance(by_kind["error"][0], NotFound) and by_kind["error"][1]


def test_a_bug_is_said_in_words_and_a_retry_runs_the_same_work_again(qtbot):
    runner = Runner()
    calls: list[int] = []
    failures: list[str] = []
    runner.failed.connect(lambda op, error: failures.append(describe(error)))

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first time unlucky")
        return len(calls)

    results: list[int] = []
    with qtbot.waitSignal(runner.failed, timeout=WAIT_MS) as failed:
        runner.run("flaky", flaky, results.append)
    assert failures == ["ValueError: first time unlucky"]
    with qtbot.waitSignal(runner.succeeded, timeout=WAIT_MS):
        runner.start(failed.args[0])
    assert results == [2] and failed.args[0].attempts == 2


def test_the_guard_notices_work_left_running(qtbot, qt_leaks: Leaks):
    runner = Runner()
    release = threading.Event()
    runner.run("blocked", lambda: release.wait(WAIT_MS / 1000))
    qtbot.waitUntil(lambda: "1 QThreadPool job(s) still running" in qt_leaks.found(), timeout=WAIT_MS)
    timer = QTimer()
    timer.start(60_000)
    assert "a QTimer is still active" in qt_leaks.found()
    timer.stop()
    release.set()
    wait_idle(qtbot, runner)
    assert qt_leaks.found() == []
