"""Runs turned into what the run page and the compare view show, and the texts the Runs table's columns
(columns.py) share with them: plain rows computed from domain values, so what is displayed (durations,
differing fields) is decided and tested without widgets."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from kiln.core.runs import Run, RunState
from kiln.core.units import format_bytes
from kiln.desktop import times
from kiln.desktop.rows import Row, when_s, with_zone

EVENT_HEADERS = ("Time", "State", "Attempt", "Node", "Cause")  # local times: event_headers() names the zone
FIELD_HEADERS = ("Field", "Value")


def duration_s(run: Run, now: float) -> float | None:
    """How long it has run: to its end, or (still running) to `now`; None before it started."""
    if not run.started_at:
        return None
    end = run.finished_at or (0.0 if run.state.terminal else now)
    return max(0.0, end - run.started_at) if end else None


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def command_text(run: Run) -> str:
    return shlex.join(run.spec.command)


def state_text(run: Run) -> str:
    """The state, with what a person looks for next: the exit code of a failure, a pending cancel."""
    text = str(run.state)
    if run.state is RunState.FAILED and run.exit_code is not None:
        text += f" (exit {run.exit_code})"
    if run.cancel_requested and not run.state.terminal:
        text += " (cancelling)"
    return text


def event_headers() -> tuple[str, ...]:
    return with_zone(EVENT_HEADERS)


def event_rows(run: Run) -> list[Row]:
    """A run's state changes in order, to the second (a short run's all happen within a minute; the
    header names the zone), exact with UTC on hover."""
    return [
        Row((when_s(e.time), str(e.state), str(e.attempt), e.node, e.cause), i, tips=(times.exact(e.time),))
        for i, e in enumerate(run.events)
    ]


def _memory(n: int) -> str:
    return format_bytes(n) if n else "no limit"


def _pairs(d: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


# Each field: (label, how to read it off a run). One list serves the run page and the compare view alike.
SPEC_FIELDS: list[tuple[str, Callable[[Run], str]]] = [
    ("Command", command_text),
    ("Project", lambda r: r.spec.project),
    ("Snapshot", lambda r: r.spec.snapshot[:12]),
    ("Image", lambda r: r.spec.image),
    ("Runtime asked", lambda r: r.spec.runtime or "any"),
    ("CPUs", lambda r: f"{r.spec.resources.cpus:g}"),
    ("Memory", lambda r: _memory(r.spec.resources.memory_bytes)),
    ("GPUs", lambda r: str(r.spec.resources.gpus)),
    ("GPU model", lambda r: r.spec.resources.gpu_model or "any"),
    ("Priority", lambda r: str(r.spec.priority)),
    ("Node labels", lambda r: _pairs(r.spec.node_labels)),
    ("Environment variables", lambda r: _pairs(r.spec.env)),
    ("Network", lambda r: r.spec.network),
    ("Retries", lambda r: str(r.spec.retries)),
]
ENV_FIELDS: list[tuple[str, Callable[[Run], str]]] = [
    ("Image", lambda r: r.spec.image or "(none: process runtime)"),
    ("Runtime", lambda r: r.runtime or "(not placed yet)"),
    ("Node", lambda r: r.node or "(not placed yet)"),
    ("GPUs", lambda r: ", ".join(r.gpu_uuids) or "none"),
    ("Attempt", lambda r: str(r.attempt)),
]


def outcome_fields(now: float) -> list[tuple[str, Callable[[Run], str]]]:
    """What became of a run; a run still going has lasted until `now`."""
    return [
        ("State", state_text),
        ("Exit code", lambda r: "" if r.exit_code is None else str(r.exit_code)),
        ("Duration", lambda r: format_duration(duration_s(r, now))),
        ("Node", lambda r: r.node),
        ("Runtime", lambda r: r.runtime),
        ("User", lambda r: r.user),
        ("Started", lambda r: times.local_zoned(r.started_at)),
        ("Output snapshot", lambda r: r.output_snapshot[:12]),
        ("Reason", lambda r: r.reason),
    ]


def field_rows(run: Run, fields: list[tuple[str, Callable[[Run], str]]]) -> list[Row]:
    return [Row((label, read(run)), label) for label, read in fields]
