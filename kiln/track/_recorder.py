"""The per-process recorder behind the public functions: it validates, appends to in-memory buffers under
one lock (the hot path: a few checks and a list append), and cuts the buffers into numbered batches for
the link. It starts lazily on the first logging call, so importing kiln.track costs nothing, and starts
over in a forked child (the parent keeps and sends what it had buffered)."""

from __future__ import annotations

import json
import operator
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Tuple

from kiln.track import _environment
from kiln.track._link import Link

MAX_KEY_CHARS = 250
MAX_VALUE_CHARS = 6000
# A batch is cut when this many items are buffered (else every INTERVAL_S), and no batch holds more
# than this many metrics or PIECES other items, which keeps every line far below the agent's limit.
BATCH_ITEMS = 10_000
PIECES = 1_000
INT64 = 2**63
NOT_IN_A_RUN = "kiln.track: not inside a Kiln run (KILN_TRACK_SOCKET unset); nothing is recorded\n"

Metric = Tuple[str, Any, int, int]  # key, value (a float, or "nan"), step, timestamp in ms


def check_key(key: object, what: str = "key") -> str:
    if not isinstance(key, str):
        raise ValueError(f"kiln.track: {what} must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError(f"kiln.track: {what} must not be empty")
    if len(key) > MAX_KEY_CHARS:
        raise ValueError(
            f"kiln.track: {what} {key[:40]!r}... has {len(key)} characters; at most {MAX_KEY_CHARS} allowed"
        )
    return key


def check_text(key: str, value: object, what: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(
            f"kiln.track: {what} {key!r} has a value of {len(text)} characters; at most {MAX_VALUE_CHARS} allowed"
        )
    return text


def to_metric_value(key: str, value: object) -> Any:
    """A float; NaN becomes "nan" (JSON has no NaN); infinities and non-numbers are refused."""
    if type(value) is not float:
        if isinstance(value, (str, bytes, bytearray)):
            raise ValueError(f"kiln.track: metric {key!r} must be a number, not {type(value).__name__}")
        try:
            value = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"kiln.track: metric {key!r} must be a number, not {type(value).__name__}") from None
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"kiln.track: metric {key!r} is {value}; metrics must be finite or nan")
    return value


def to_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"kiln.track: {what} must be an int, not bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]  # int, numpy ints; never floats
    except TypeError:
        raise ValueError(f"kiln.track: {what} must be an int, not {type(value).__name__}") from None
    if not -INT64 <= number < INT64:
        raise ValueError(f"kiln.track: {what} {number} does not fit in 64 bits")
    return number


class Recorder:
    def __init__(self) -> None:
        self._begin()

    def _begin(self) -> None:
        """The state of a process that has logged nothing yet (also: a freshly forked child)."""
        self._lock = threading.Lock()  # guards the buffers and step counters
        self._cut_lock = threading.Lock()  # one cut at a time, so seqs go out in order
        self._start_lock = threading.Lock()
        self._metrics: list[Metric] = []
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._other: list[tuple[str, Any]] = []  # ("artifacts" | "datasets" | "models", entry)
        self._steps: dict[str, int] = getattr(self, "_steps", {})  # a forked child numbers on
        self._keys: set = set()  # metric keys already validated
        self._seq = 0
        self._proc = os.urandom(8).hex()  # with the pid, names this process to the agent
        self._started = False
        self._wake_sent = False
        self._link: Link | None = None

    def after_fork_in_child(self) -> None:
        link = self._link
        self._begin()
        if link is not None:
            link.forget()

    # -- the hot path ------------------------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
        if key not in self._keys:
            self._keys.add(check_key(key, "metric key"))
        if type(value) is not float or value - value != 0.0:  # not a float, or nan or infinite
            value = to_metric_value(key, value)
        if timestamp is None:
            timestamp = int(time.time() * 1000)
        elif type(timestamp) is not int or not -INT64 <= timestamp < INT64:
            timestamp = to_int(timestamp, "timestamp")
        if step is not None and (type(step) is not int or not -INT64 <= step < INT64):
            step = to_int(step, "step")
        with self._lock:
            if step is None:
                step = self._steps.get(key, 0)
            self._steps[key] = step + 1
            self._metrics.append((key, value, step, timestamp))
            full = len(self._metrics) + len(self._other) >= BATCH_ITEMS
        if full or not self._started:
            self._poke(full)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise ValueError(f"kiln.track: log_metrics takes a dict, not {type(metrics).__name__}")
        items = []
        for key, value in metrics.items():
            if key not in self._keys:
                self._keys.add(check_key(key, "metric key"))
            if type(value) is not float or value - value != 0.0:  # not a float, or nan or infinite
                value = to_metric_value(key, value)
            items.append((key, value))
        timestamp = int(time.time() * 1000) if timestamp is None else to_int(timestamp, "timestamp")
        if step is not None:
            step = to_int(step, "step")
        with self._lock:
            steps, append = self._steps, self._metrics.append
            for key, value in items:
                at = steps.get(key, 0) if step is None else step
                steps[key] = at + 1
                append((key, value, at, timestamp))
            full = len(self._metrics) + len(self._other) >= BATCH_ITEMS
        if full or not self._started:
            self._poke(full)

    # -- everything else ---------------------------------------------------------------------------------

    def log_params(self, params: Mapping[str, Any], what: str = "param") -> None:
        if not isinstance(params, Mapping):
            raise ValueError(f"kiln.track: expected a dict of {what}s, not {type(params).__name__}")
        checked = {check_key(k, f"{what} key"): check_text(k, v, what) for k, v in params.items()}
        with self._lock:
            (self._params if what == "param" else self._tags).update(checked)
            full = len(self._params) + len(self._tags) + len(self._metrics) >= BATCH_ITEMS
        self._poke(full)

    def add(self, kind: str, entry: Any) -> None:
        """An artifact path, a dataset name, or a model record."""
        with self._lock:
            self._other.append((kind, entry))
            full = len(self._metrics) + len(self._other) >= BATCH_ITEMS
        self._poke(full)

    def flush(self, timeout: float) -> None:
        if not self._started:  # nothing logged in this process (since it forked)
            return
        seq = self._cut()
        link = self._link
        if link is not None and seq:
            link.wake()
            link.wait(seq, timeout)

    # -- batching ----------------------------------------------------------------------------------------

    def _poke(self, full: bool) -> None:
        if not self._started:
            self._start()
        if full and not self._wake_sent:
            self._wake_sent = True
            if self._link is not None:
                self._link.wake()
            else:  # not inside a run: nothing will ever send these
                self._cut()

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            path = os.environ.get("KILN_TRACK_SOCKET")
            if path:
                self._link = Link(path, self._cut)
            else:
                sys.stderr.write(NOT_IN_A_RUN)
            self._started = True

    def _cut(self) -> int:
        """Moves everything buffered into numbered batches for the link; returns the last seq assigned."""
        with self._cut_lock:
            with self._lock:
                metrics, self._metrics = self._metrics, []
                params, self._params = self._params, {}
                tags, self._tags = self._tags, {}
                other, self._other = self._other, []
                self._wake_sent = False
            if self._link is None:
                return self._seq
            for batch in _batches(metrics, params, tags, other):
                self._seq += 1
                head: dict[str, Any] = {"seq": self._seq, "pid": os.getpid(), "proc": self._proc}
                if self._seq == 1:
                    head["environment"] = _environment.describe()
                head.update(batch)
                line = json.dumps(head, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"
                self._link.submit(self._seq, line)
            return self._seq


def _batches(
    metrics: list[Metric], params: dict[str, str], tags: dict[str, str], other: list[tuple[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Splits what was cut into batches of at most BATCH_ITEMS metrics and PIECES of each other field,
    leaving out empty fields; order is kept within each field."""
    param_items, tag_items = list(params.items()), list(tags.items())
    i = 0
    while True:
        batch: dict[str, Any] = {}
        part = slice(i * PIECES, (i + 1) * PIECES)
        if param_items[part]:
            batch["params"] = dict(param_items[part])
        if tag_items[part]:
            batch["tags"] = dict(tag_items[part])
        for kind, entry in other[part]:
            batch.setdefault(kind, []).append(entry)
        chunk = metrics[i * BATCH_ITEMS : (i + 1) * BATCH_ITEMS]
        if chunk:
            batch["metrics"] = chunk
        if not batch:
            return
        yield batch
        i += 1
