"""The Qt binding keeps its references: many emits of every signal the app declares, the Runner's round
trip, and C++ signals into Python slots leave the reference counts of True, False and None where they
were. PySide6 6.12.0 on Python 3.11 fails this (one reference lost per emit or slot call), and the app
then aborts within minutes; on Pythons whose True, False and None are immortal (3.12+) the counts never
move, so the test passes there by construction."""

from __future__ import annotations

import gc
import importlib
import inspect
import pkgutil
import sys
import weakref
from collections.abc import Iterator

import pytest

import kiln.desktop
from kiln.desktop.ops import Op, Runner
from kiln.desktop.qt import QObject, QThreadPool, QTimer, binding_problem
from tests.desktop.conftest import WAIT_MS

CALLS = 2000  # per signal: enough that a leak of one a call cannot hide in noise
# The fault loses one reference per emit or slot call, so a drift of a quarter of the calls is its
# signature; less is the interpreter and other tests' leftover threads taking or dropping references
# meanwhile (caches, frames, objects freed elsewhere: one CI run saw 51 over 500 round trips)
NOISE_SHARE = 4
WATCHED: tuple[object, ...] = (True, False, None)
SAMPLES: dict[str, object] = {
    "PyObject": object(),
    "QString": "text",
    "bool": True,
    "int": 1,
    "double": 0.5,
    "QVariantList": ["a"],
}


def counts() -> list[int]:
    return [sys.getrefcount(o) for o in WATCHED]


@pytest.fixture(autouse=True)
def steady() -> Iterator[None]:
    """No collection of other tests' garbage while counting: it would release references of its own."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def drift(before: list[int], calls: int) -> dict[str, int]:
    limit = calls // NOISE_SHARE
    return {repr(o): a - b for o, a, b in zip(WATCHED, counts(), before, strict=True) if abs(a - b) > limit}


def app_signals() -> Iterator[tuple[type[QObject], str, list[str]]]:
    """(class, signal, parameter types) for every signal a class of kiln.desktop declares itself."""
    for info in pkgutil.walk_packages(kiln.desktop.__path__, "kiln.desktop."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, QObject):
                continue
            meta = cls.staticMetaObject
            for i in range(meta.methodOffset(), meta.methodCount()):
                method = meta.method(i)
                if method.methodType() == method.MethodType.Signal:
                    name = bytes(method.name().data()).decode()
                    yield cls, name, [bytes(t.data()).decode() for t in method.parameterTypes()]


def bare(cls: type[QObject]) -> QObject:
    """An instance of `cls` with only its Qt base initialised (its own __init__ wants a session, a client,
    a run): the signals are the class's own, which is what is under test."""
    obj = cls.__new__(cls)
    qt_base = next(b for b in cls.__mro__ if b.__module__.startswith("PySide6"))
    qt_base.__init__(obj)
    return obj


def test_this_binding_passes_the_apps_own_check(qtbot):
    assert binding_problem() == ""


def test_every_signal_the_app_declares_keeps_true_false_and_none(qtbot):
    found = list(app_signals())
    assert len(found) >= 20, found  # the walk found the app's classes (a typo would find none)
    received: list[int] = []

    def slot(*_args: object) -> None:  # returns None, as the app's slots do
        received.append(1)

    for cls, name, types in found:
        obj = bare(cls)
        signal = getattr(obj, name)
        signal.connect(slot)
        args = [SAMPLES[t] for t in types]
        received.clear()
        before = counts()
        for _ in range(CALLS):
            signal.emit(*args)
        assert len(received) == CALLS, f"{cls.__name__}.{name}"
        assert not drift(before, CALLS), f"{cls.__name__}.{name}({', '.join(types)}): {drift(before, CALLS)}"
        obj.deleteLater()


def test_the_runners_round_trip_keeps_true_false_and_none_and_frees_each_operation(qtbot):
    runner = Runner()
    results: list[int] = []
    ops = 500

    def ok(value: object) -> None:  # the work's True, False or None travels through the queued signal
        results.append(0)

    started: weakref.WeakSet[Op] = weakref.WeakSet()
    before = counts()
    with qtbot.waitSignal(runner.idle, timeout=WAIT_MS * 4):
        for i in range(ops):
            started.add(runner.run(f"op {i}", (lambda i=i: i % 2 == 0) if i % 3 else (lambda: None), ok))
    qtbot.waitUntil(lambda: len(results) == ops, timeout=WAIT_MS)
    assert not drift(before, ops), drift(before, ops)
    QThreadPool.globalInstance().waitForDone()
    # each operation, its callbacks and its result are freed once delivered (a pool thread may still be
    # letting go of the last job it ran: wait for that, not for time)
    qtbot.waitUntil(lambda: gc.collect() >= 0 and len(started) == 0, timeout=WAIT_MS)


def test_cpp_signals_into_python_slots_keep_none(qtbot):
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(0)

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == CALLS:
            timer.stop()

    timer.timeout.connect(tick)
    before = counts()
    timer.start()
    qtbot.waitUntil(lambda: len(ticks) >= CALLS, timeout=WAIT_MS)
    assert not drift(before, CALLS), drift(before, CALLS)
