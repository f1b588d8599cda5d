"""Schedules as the client sees them: a run template fired on time, and the record of each fire.

The timing itself (cron in a zone, intervals, DST, catch-up) is the coordinator's
(kiln.coordinator.schedules.timing); what travels is its result: the next fire times and the fires.

Overlap, what a fire does while runs of earlier fires have not ended:
    skip      the fire is recorded as skipped (the default: a slow job never piles up)
    queue     the fire waits, and starts once no earlier run is active (at most one waits; a later fire
              that finds one waiting is skipped)
    allow:N   starts as long as fewer than N runs of the schedule are active, else is skipped
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.core.runs import RunSpec

OVERLAPS = ("skip", "queue", "allow")
MAX_ALLOW = 100
SCHEDULE_STATES = ("active", "paused", "finished")  # finished: its timing names no later time
# What became of a nominal fire time.
FIRED, SKIPPED, WAITING, FAILED = "fired", "skipped", "waiting", "failed"
SCHEDULE_TAG = "kiln.schedule"  # on each fired run: the schedule's id
NOMINAL_TAG = "kiln.schedule.nominal"  # on each fired run: the nominal fire time (ISO 8601, UTC)
SCHEDULE_ENV = "KILN_SCHEDULE"  # in each fired run's environment: PROJECT/NAME
NOMINAL_ENV = "KILN_SCHEDULE_TIME"  # in each fired run's environment: the nominal fire time (ISO 8601, UTC)


def parse_overlap(text: str) -> tuple[str, int]:
    """("skip"|"queue"|"allow", N) from skip, queue or allow:N; ValueError saying what to write."""
    kind, _, count = text.strip().partition(":")
    if kind in ("skip", "queue") and not count:
        return kind, 1
    if kind == "allow" and count.isdigit() and 1 <= int(count) <= MAX_ALLOW:
        return kind, int(count)
    raise ValueError(f"overlap {text[:40]!r}: use skip, queue or allow:N (N from 1 to {MAX_ALLOW})")


def overlap_text(kind: str, count: int) -> str:
    return f"allow:{count}" if kind == "allow" else kind


@dataclass(frozen=True)
class ScheduleFire:
    nominal: float  # the fire time the timing named (epoch seconds)
    fired_at: float  # when the coordinator claimed it
    outcome: str  # fired, skipped, waiting or failed
    run_id: str = ""
    reason: str = ""  # why it was skipped or failed
    run_state: str = ""


@dataclass(frozen=True)
class Schedule:
    id: str
    project: str
    name: str
    spec: RunSpec  # what each fire runs (for --rerun: the rerun run's spec)
    cron: str = ""
    tz: str = ""
    every_s: int = 0
    anchor: float = 0.0
    overlap: str = "skip"
    overlap_max: int = 1
    catch_up: str = "none"
    rerun_of: str = ""
    state: str = "active"
    created_by: str = ""
    created_at: float = 0.0
    last_nominal: float = 0.0
    description: str = ""  # the timing in words
    next_fires: tuple[float, ...] = ()  # the next few nominal fire times
    fires: tuple[ScheduleFire, ...] = ()  # the most recent, newest first
    fire_count: int = 0
    trigger: str = ""  # the event it fires on (dataset:NAME, model-approved:MODEL, alert:MONITOR, metric:…)
    would_fire: tuple[str, ...] = ()  # a dry run's answer: what would fire, in words
