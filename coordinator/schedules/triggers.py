"""Triggers: a schedule that fires on an event rather than a time (`--on EVENT`):

    dataset:NAME            a new version of dataset NAME in the schedule's project
    model-approved:MODEL    a version of MODEL moved to an alias through its approvals (kiln model review)
    alert:MONITOR           an alert of monitor MONITOR fired (kiln monitor create)
    metric:KEY<OP>VALUE     a run of the project ended with its last KEY crossing VALUE (OP: < <= > >=);
                            runs the schedule fired itself are not counted, so a retraining loop cannot
                            feed itself

Each event fires once: its time is the fire's nominal time (the fire rows' key), and the schedule's
last_nominal is the time of the latest event it has seen, so events are found in the order they were
recorded and a restart neither loses nor repeats one. A schedule sees only events after it was made, and
looks for them every POLL_S, so an event fires its run within about a second. The overlap policy applies
as it does to timed fires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiln.coordinator.context import Coordinator
from kiln.core import lineage

KINDS = ("dataset", "model-approved", "alert", "metric")
MAX_EVENTS = 100  # per pass and schedule: a burst is taken over a few passes
POLL_S = 1.0  # a trigger looks for its events this often (the dispatcher ticks far more often when busy)
_METRIC = re.compile(r"(?P<key>[A-Za-z0-9_./-]{1,200})\s*(?P<op><=|>=|<|>)\s*(?P<value>-?[0-9.]+(?:[eE]-?[0-9]+)?)")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Trigger:
    kind: str
    name: str  # the dataset, model, monitor, or metric key
    op: str = ""
    value: float = 0.0

    def text(self) -> str:
        if self.kind == "metric":
            return f"metric:{self.name}{self.op}{self.value:g}"
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Event:
    time: float
    what: str  # for people: "dataset events v4", "run r-… ended with accuracy 0.71"
    env: dict[str, str]  # for the run it fires: KILN_TRIGGER_* variables


def parse(text: str) -> Trigger:
    """A trigger from --on; ValueError saying what to write."""
    kind, sep, rest = text.strip().partition(":")
    usage = "use dataset:NAME, model-approved:MODEL, alert:MONITOR or metric:KEY<OP>VALUE (e.g. metric:acc<0.8)"
    if not sep or kind not in KINDS or not rest:
        raise ValueError(f"--on {text[:60]!r}: {usage}")
    if kind == "metric":
        m = _METRIC.fullmatch(rest.strip())
        if not m:
            raise ValueError(f"--on {text[:60]!r}: a metric trigger is metric:KEY<OP>VALUE, OP one of < <= > >=")
        return Trigger(kind, m["key"], m["op"], float(m["value"]))
    if not _NAME.fullmatch(rest):
        raise ValueError(f"--on {text[:60]!r}: {rest[:40]!r} is not a {kind.split('-')[0]} name")
    return Trigger(kind, rest)


def events(ctx: Coordinator, schedule: dict[str, Any], trigger: Trigger, after: float, now: float) -> list[Event]:
    """The trigger's events recorded after `after` and up to `now`, oldest first."""
    project = schedule["project"]
    if trigger.kind == "dataset":
        rows = ctx.store.dataset_versions_after(project, trigger.name, after, now, MAX_EVENTS)
        return [
            Event(r["created_at"], f"dataset {trigger.name} v{r['version']}",
                  {"KILN_TRIGGER": trigger.text(), "KILN_TRIGGER_DATASET": f"{trigger.name}:{r['version']}"})
            for r in rows
        ]  # fmt: skip
    if trigger.kind == "model-approved":
        rows = ctx.store.approved_moves_after(project, trigger.name, after, now, MAX_EVENTS)
        return [
            Event(r["time"], f"model {trigger.name} v{r['version']} approved as {r['alias']}",
                  {"KILN_TRIGGER": trigger.text(), "KILN_TRIGGER_MODEL": lineage.model_id(project, trigger.name,
                                                                                          r["version"])})
            for r in rows
        ]  # fmt: skip
    if trigger.kind == "alert":
        monitor = ctx.store.monitor(project, trigger.name)
        if monitor is None:
            return []
        rows = ctx.store.alerts_after(monitor["id"], after, now, MAX_EVENTS)
        return [
            Event(r["first_at"], f"alert {r['id']} ({r['rule']}) of monitor {trigger.name}",
                  {"KILN_TRIGGER": trigger.text(), "KILN_TRIGGER_ALERT": r["id"]})
            for r in rows
        ]  # fmt: skip
    rows = ctx.store.ended_runs_with_metric(project, trigger.name, after, now, schedule["id"], MAX_EVENTS * 10)
    crossed = [r for r in rows if r["last_value"] is not None and _holds(r["last_value"], trigger.op, trigger.value)]
    return [
        Event(r["finished_at"], f"run {r['id']} ended with {trigger.name} {r['last_value']:g}",
              {"KILN_TRIGGER": trigger.text(), "KILN_TRIGGER_RUN": r["id"]})
        for r in crossed[:MAX_EVENTS]
    ]  # fmt: skip


def _holds(measured: float, op: str, value: float) -> bool:
    return {"<": measured < value, "<=": measured <= value, ">": measured > value, ">=": measured >= value}[op]
