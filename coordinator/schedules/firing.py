"""Firing: on each dispatcher tick, every schedule whose time has come claims its due nominal times and
starts (or skips) a run for each, in one transaction per schedule.

The claim and its record are one commit: the fire rows (keyed by schedule and nominal time, so a second
claim of a time cannot be stored), the runs they queued, and the schedule's new last_nominal. A coordinator
killed before the commit fires those times again on restart, one killed after it has them recorded; no
time is fired twice and none is lost but what the catch-up policy drops (timing.due). Everything older than
the grace window is settled in the same commit, so a schedule that missed fires is not looked at again
until its next time.

The loop is told when to wake: `next_due` is the earliest next fire of any active schedule, so a fire
starts within the tick's latency of its time, not within the tick period.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from typing import Any

from kiln.coordinator import runs
from kiln.coordinator.context import Coordinator
from kiln.coordinator.schedules import timing, triggers
from kiln.coordinator.schedules.manage import timing_of
from kiln.coordinator.store.compute import spec_from_dict
from kiln.core import clock, limits
from kiln.core.errors import KilnError
from kiln.core.permissions import Principal
from kiln.core.runs import RunSpec
from kiln.core.schedules import (
    FAILED,
    FIRED,
    NOMINAL_ENV,
    NOMINAL_TAG,
    SCHEDULE_ENV,
    SCHEDULE_TAG,
    SKIPPED,
    WAITING,
)

log = logging.getLogger("kiln.coordinator.schedules")


def fire_due(ctx: Coordinator, now: float) -> int:
    """Claims every due fire; returns how many runs were queued."""
    queued = 0
    for schedule_id in ctx.store.waiting_schedules():
        queued += _release_waiting(ctx, schedule_id, now)
    for row in ctx.store.due_schedules(now):
        try:
            queued += _fire(ctx, row["id"], now)
        except Exception:  # one broken schedule must not stop the others, nor the dispatcher's tick
            log.exception("schedule %s/%s could not fire", row["project"], row["name"])
    return queued


def next_due(ctx: Coordinator) -> float | None:
    """The earliest next fire time of any active schedule (None: none is active)."""
    return ctx.store.next_schedule_fire()


def _fire(ctx: Coordinator, schedule_id: str, now: float) -> int:
    store = ctx.store
    queued = 0
    with store.transaction():
        row = store.schedule_by_id(schedule_id)  # as committed, inside the claim's own transaction
        if row is None or row["state"] != "active":
            return 0
        if row["trigger"]:
            return _fire_events(ctx, row, now)
        when = timing_of(row)
        last = float(row["last_nominal"])
        times = timing.due(when, last, now, row["catch_up"])
        for nominal in times:
            outcome, run_id, reason = _start_or_hold(ctx, row, nominal)
            store.add_fire(schedule_id, nominal, now, outcome, run_id, reason)
            queued += outcome == FIRED
        settled = max([last, *times, timing.prev_fire(when, now - timing.GRACE_S)])
        store.update_schedule(schedule_id, last_nominal=settled, next_fire=timing.next_fire(when, settled))
    return queued


def _fire_events(ctx: Coordinator, row: dict[str, Any], now: float) -> int:
    """A trigger's events since the last one seen, each fired (or held or skipped) once."""
    queued = 0
    last = float(row["last_nominal"])
    for event in triggers.events(ctx, row, triggers.parse(row["trigger"]), last, now):
        nominal = event.time
        while ctx.store.has_fire(row["id"], nominal):  # two events recorded at the same instant: both fire
            nominal = math.nextafter(nominal, math.inf)
        outcome, run_id, reason = _start_or_hold(ctx, row, nominal, event.env)
        ctx.store.add_fire(row["id"], nominal, now, outcome, run_id, "; ".join(filter(None, [event.what, reason])))
        queued += outcome == FIRED
        last = max(last, event.time)
    ctx.store.update_schedule(row["id"], last_nominal=last, next_fire=now + triggers.POLL_S)
    return queued


def _start_or_hold(
    ctx: Coordinator, row: dict[str, Any], nominal: float, env: dict[str, str] | None = None
) -> tuple[str, str, str]:
    """(outcome, run id, reason) of one nominal time, by the schedule's overlap policy."""
    active = ctx.store.active_fired_runs(row["id"])
    kind, most = row["overlap"], int(row["overlap_max"])
    if kind == "queue" and active:
        if ctx.store.fires(row["id"], 1, outcome=WAITING):
            return SKIPPED, "", "a fire already waits for the active run to end (overlap queue holds one)"
        return WAITING, "", f"waits for {active} active run(s) of this schedule to end"
    if active >= (most if kind == "allow" else 1):
        return SKIPPED, "", f"{active} run(s) of this schedule still active (overlap {kind})"
    return _start(ctx, row, nominal, env)


def _start(
    ctx: Coordinator, row: dict[str, Any], nominal: float, extra: dict[str, str] | None = None
) -> tuple[str, str, str]:
    owner = ctx.store.user(row["created_by"])
    if owner is None or owner.disabled:
        gone = "no longer exists" if owner is None else "is disabled"
        return FAILED, "", f"its owner {row['created_by']} {gone}; recreate the schedule as someone else"
    who = Principal(owner.name, owner.is_admin)
    when = clock.iso(nominal)
    base: RunSpec = spec_from_dict(json.loads(row["spec_json"]))
    env = {**base.env, **(extra or {}), SCHEDULE_ENV: f"{row['project']}/{row['name']}", NOMINAL_ENV: when}
    try:
        run = runs.queue_internal(ctx, who, replace(base, env=env), "schedule.fire")
    except KilnError as e:  # refused as a submission would be: recorded, and the next time tries again
        return FAILED, "", limits.cut(str(e), 500)
    ctx.store.add_tags(run.id, {SCHEDULE_TAG: row["id"], NOMINAL_TAG: when})
    return FIRED, run.id, ""


def _release_waiting(ctx: Coordinator, schedule_id: str, now: float) -> int:
    """Starts a fire held by overlap queue once no run of its schedule is active."""
    with ctx.store.transaction():
        row = ctx.store.schedule_by_id(schedule_id)
        waiting = ctx.store.fires(schedule_id, 1, outcome=WAITING)
        if row is None or not waiting or ctx.store.active_fired_runs(schedule_id):
            return 0
        nominal = float(waiting[0]["nominal"])
        if row["state"] != "active":
            ctx.store.update_fire(schedule_id, nominal, now, SKIPPED, "", "the schedule was paused while it waited")
            return 0
        outcome, run_id, reason = _start(ctx, row, nominal)
        ctx.store.update_fire(schedule_id, nominal, now, outcome, run_id, reason)
        return int(outcome == FIRED)
