"""Schedules as records: create, read, list, pause, resume and delete, each checked and audited.

A schedule keeps the run it fires as a spec: for `-- CMD…` the snapshot pushed when it was made (the code
is fixed, as `kiln run` fixes it) with datasets named as given (a bare NAME is the latest version at each
fire, so a retraining schedule picks up new data); for `--rerun RUN` that run's exact spec, repeated. It
is created with last_nominal at its creation time, so its first fire is the first nominal time after that.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

from kiln.coordinator import runs
from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.schedules import timing, triggers
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.coordinator.store.compute import spec_from_dict, spec_to_dict
from kiln.core import clock, limits
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kiln.core.names import check_name
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal
from kiln.core.runs import RunSpec
from kiln.core.schedules import Schedule, ScheduleFire, overlap_text, parse_overlap

RECENT_FIRES = 10


@dataclass(frozen=True)
class NewSchedule:
    project: str
    name: str
    spec: RunSpec | None  # what to run (None with rerun_of)
    cron: str | None = None
    tz: str | None = None
    every: str | None = None
    overlap: str = "skip"
    catch_up: str = "none"
    rerun_of: str = ""
    on: str | None = None  # an event instead of a time (coordinator/schedules/triggers.py)
    dry_run: bool = False  # check everything and say what would fire; store nothing


def create(ctx: Coordinator, who: Principal, new: NewSchedule) -> Schedule:
    check_name("schedule", new.name)
    require_project(ctx.store, who, Need.WRITE, new.project)
    now = clock.now()
    trigger = None
    try:
        if new.on is not None:
            if new.cron is not None or new.every is not None:
                raise ValueError("give one of --cron, --every and --on")
            trigger = triggers.parse(limits.REFERENCE.check(new.on, field="--on"))
            when = timing.Timing(every_s=timing.MAX_EVERY_S, anchor=float(int(now)))  # unused: events decide
        else:
            when = timing.parse_timing(new.cron, new.tz, new.every, now)
        overlap, overlap_max = parse_overlap(new.overlap)
        catch_up = timing.parse_catch_up(new.catch_up)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    if trigger is not None:
        _check_trigger(ctx, new.project, trigger)
    spec = _template(ctx, who, new)
    if ctx.store.schedule(new.project, new.name) is not None:
        raise AlreadyExists(f"project {new.project} already has a schedule named {new.name!r}")
    row = {
        "id": f"s-{secrets.token_hex(6)}",
        "project": new.project,
        "name": new.name,
        "cron": when.cron,
        "tz": when.tz,
        "every_s": when.every_s,
        "anchor": when.anchor,
        "overlap": overlap,
        "overlap_max": overlap_max,
        "catch_up": catch_up,
        "spec_json": json.dumps(spec_to_dict(spec)),
        "rerun_of": spec.rerun_of,
        "state": "active",
        "last_nominal": float(int(now)),
        "next_fire": timing.next_fire(when, float(int(now))),
        "created_by": who.user,
        "created_at": now,
        "trigger": trigger.text() if trigger else "",
    }
    if trigger is not None:
        row.update({"every_s": 0, "anchor": 0.0, "next_fire": now})  # then every triggers.POLL_S
    if new.dry_run:
        return replace(as_schedule(ctx, row, now), would_fire=_would_fire(ctx, row, trigger, spec, now))
    with ctx.store.transaction():
        ctx.store.add_schedule(row)
        details: dict[str, object] = {"project": new.project, "name": new.name, "timing": describe(row)}
        details.update({"overlap": overlap_text(overlap, overlap_max), "catch_up": catch_up})
        details["rerun_of" if spec.rerun_of else "command"] = spec.rerun_of or list(spec.command)
        ctx.store.append_audit(who.user, "schedule.create", str(row["id"]), details)
    return as_schedule(ctx, row, now)


def _template(ctx: Coordinator, who: Principal, new: NewSchedule) -> RunSpec:
    """The spec each fire runs, checked now so that a schedule never fires something refused every time."""
    if new.rerun_of:
        if new.spec is not None and new.spec.command:
            raise InvalidArgument("give either a command (-- CMD…) or --rerun RUN, not both")
        old = runs.get_run(ctx, who, new.rerun_of, with_events=False)
        if old.spec.project != new.project:
            raise InvalidArgument(f"run {old.id} is in project {old.spec.project}, not {new.project}")
        if old.spec.builds:
            raise InvalidArgument(f"run {old.id} built an environment; schedules fire runs, not builds")
        return replace(old.spec, rerun_of=old.id)
    if new.spec is None or not new.spec.command:
        raise InvalidArgument("a schedule needs what to run: -- CMD… (with its options) or --rerun RUN")
    if new.spec.project != new.project:
        raise InvalidArgument("the run's project must be the schedule's")
    if new.spec.rerun_of or new.spec.builds:
        raise InvalidArgument("a scheduled run is a plain run; to repeat one, use --rerun RUN")
    runs.check_spec(new.spec)
    snapshot = resolve_snapshot(ctx, who, new.project, new.spec.snapshot).id if new.spec.snapshot else ""
    return replace(new.spec, snapshot=snapshot)


def schedule_row(ctx: Coordinator, who: Principal, project: str, name: str, need: Need = Need.READ) -> dict[str, Any]:
    limits.REFERENCE.check(name, field="schedule name")
    require_project(ctx.store, who, need, project)
    row = ctx.store.schedule(project, name)
    if row is None:
        raise NotFound(f"project {project} has no schedule named {name!r} (kiln schedule list shows them)")
    return row


def get(ctx: Coordinator, who: Principal, project: str, name: str) -> Schedule:
    return as_schedule(ctx, schedule_row(ctx, who, project, name), clock.now(), details=True)


def list_page(ctx: Coordinator, who: Principal, project: str, page: PageRequest) -> Page[Schedule]:
    require_project(ctx.store, who, Need.READ, project)
    after = str(page.after[0]) if page.after else ""
    rows = ctx.store.schedules(project, after=after, limit=page.size + 1)
    now = clock.now()
    return page_of(rows, page.size, lambda r: (r["name"],)).map(lambda r: as_schedule(ctx, r, now))


def pause(ctx: Coordinator, who: Principal, project: str, name: str) -> Schedule:
    row = schedule_row(ctx, who, project, name, Need.WRITE)
    if row["state"] == "paused":
        raise FailedPrecondition(f"schedule {name} is already paused (kiln schedule resume starts it again)")
    with ctx.store.transaction():
        ctx.store.update_schedule(row["id"], state="paused")
        ctx.store.append_audit(who.user, "schedule.pause", row["id"], {"project": project, "name": name})
    return get(ctx, who, project, name)


def resume(ctx: Coordinator, who: Principal, project: str, name: str) -> Schedule:
    """Active again from now: times that passed while it was paused do not fire."""
    row = schedule_row(ctx, who, project, name, Need.WRITE)
    if row["state"] == "active":
        raise FailedPrecondition(f"schedule {name} is not paused")
    now = float(int(clock.now()))
    last = max(float(row["last_nominal"]), now)
    with ctx.store.transaction():
        ctx.store.update_schedule(row["id"], state="active", last_nominal=last, next_fire=_next(row, last))
        ctx.store.append_audit(who.user, "schedule.resume", row["id"], {"project": project, "name": name})
    return get(ctx, who, project, name)


def delete(ctx: Coordinator, who: Principal, project: str, name: str) -> None:
    """The schedule and its fire history go; the runs it fired stay, tagged with its id."""
    row = schedule_row(ctx, who, project, name, Need.WRITE)
    with ctx.store.transaction():
        ctx.store.delete_schedule(row["id"])
        details = {"project": project, "name": name, "fires": ctx.store.fire_count(row["id"])}
        ctx.store.append_audit(who.user, "schedule.delete", row["id"], details)


def timing_of(row: dict[str, Any]) -> timing.Timing:
    return timing.Timing(cron=row["cron"], tz=row["tz"], every_s=int(row["every_s"]), anchor=float(row["anchor"]))


def describe(row: dict[str, Any]) -> str:
    return f"on {row['trigger']}" if row.get("trigger") else timing.describe(timing_of(row))


def _next(row: dict[str, Any], after: float) -> float:
    return after if row.get("trigger") else timing.next_fire(timing_of(row), after)


def _check_trigger(ctx: Coordinator, project: str, trigger: triggers.Trigger) -> None:
    """What a trigger names must exist, but a dataset (its first version may come later)."""
    if trigger.kind == "alert" and ctx.store.monitor(project, trigger.name) is None:
        raise NotFound(f"project {project} has no monitor named {trigger.name!r} (kiln monitor list shows them)")
    if trigger.kind == "model-approved" and not ctx.store.model_versions(project, trigger.name):
        raise NotFound(f"project {project} has no model named {trigger.name!r} (kiln model list shows them)")


def _would_fire(
    ctx: Coordinator, row: dict[str, Any], trigger: triggers.Trigger | None, spec: RunSpec, now: float
) -> tuple[str, ...]:
    what = f"a rerun of {spec.rerun_of}" if spec.rerun_of else " ".join(spec.command)
    if trigger is None:
        return tuple(f"{there} ({clock.iso(t)}): {what}" for t, there, _ in timing.upcoming(timing_of(row), now))
    seen = triggers.events(ctx, {**row, "id": ""}, trigger, 0.0, now)
    said = [f"on each {trigger.text()} event from now: {what}"]
    if seen:
        said.append(f"the latest such event, {seen[-1].what} at {clock.iso(seen[-1].time)}, would have fired it")
    else:
        said.append("no such event has happened yet in this project")
    return tuple(said)


def as_schedule(ctx: Coordinator, row: dict[str, Any], now: float, details: bool = False) -> Schedule:
    if row.get("trigger"):
        upcoming: list[float] = []
    else:
        start = max(now, float(row["last_nominal"]))
        upcoming = timing.fires_between(timing_of(row), start, float("inf"), timing.UPCOMING)
    fires: tuple[ScheduleFire, ...] = ()
    if details:
        fires = tuple(
            ScheduleFire(f["nominal"], f["fired_at"], f["outcome"], f["run_id"], f["reason"], f["run_state"])
            for f in ctx.store.fires(row["id"], RECENT_FIRES)
        )
    return Schedule(
        id=row["id"],
        project=row["project"],
        name=row["name"],
        spec=spec_from_dict(json.loads(row["spec_json"])),
        cron=row["cron"],
        tz=row["tz"],
        every_s=int(row["every_s"]),
        anchor=float(row["anchor"]),
        overlap=row["overlap"],
        overlap_max=int(row["overlap_max"]),
        catch_up=row["catch_up"],
        rerun_of=row["rerun_of"],
        state=row["state"] if row["state"] == "paused" or upcoming or row.get("trigger") else "finished",
        created_by=row["created_by"],
        created_at=float(row["created_at"]),
        last_nominal=float(row["last_nominal"]),
        description=describe(row),
        next_fires=tuple(upcoming) if row["state"] == "active" else (),
        fires=fires,
        fire_count=ctx.store.fire_count(row["id"]) if details else 0,
        trigger=row.get("trigger", ""),
    )
