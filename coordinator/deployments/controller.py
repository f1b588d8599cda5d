"""The deployment controller: turns what each endpoint asks for into replicas, and decides what it serves.

Replicas are ordinary runs (placed by the scheduler, reserving their resources, started by an agent in
either runtime) recorded in `deployment_replicas`. Each pass, for every active endpoint:

- an alias it follows that moved (an approved `production` move) becomes its new main version;
- every version it asks for or still serves has `replicas` live replicas: a missing one (failed, lost,
  on a drained node) is replaced, with a growing pause after failures in a row so a model that cannot
  load does not fill the queue; extra ones are cancelled;
- the route switches to the asked traffic only once each version in it has a ready replica (running and
  serving: its address told), so a version switch is rolling: the old version answers until the new one
  can, and its replicas are stopped DRAIN_S after the switch, once every gateway has the new routes;
- replicas on a drained node are stopped once their replacements elsewhere are ready.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kiln.coordinator import runs
from kiln.coordinator.context import Coordinator
from kiln.coordinator.store.deployments import splits_from
from kiln.core import clock, limits
from kiln.core.deployments import (
    ACTIVE,
    ADDRESS_TAG,
    STOPPED,
    EndpointRoute,
    ReplicaRoute,
    RouteTable,
    Split,
    VersionRoute,
    serving_python,
    splits_text,
)
from kiln.core.errors import KilnError
from kiln.core.permissions import Principal
from kiln.core.runs import Priority, Resources, RunSpec, RunState

log = logging.getLogger("kiln.coordinator.deployments")

PASS_S = 0.25  # at most one pass this often (the dispatcher ticks far more often under load)
DRAIN_S = 2.0  # between a route switch and stopping what it left: gateways re-read routes every 0.25 s
MAX_BACKOFF_S = 60.0
ENDED_FAILED = ("failed", "lost")
LIVE = ("queued", "assigned", "preparing", "running")


@dataclass
class Controller:
    """Keeps only what a restart may forget: when it last ran, and which failures it already announced."""

    last_pass: float = -PASS_S
    announced: set[str] = field(default_factory=set)
    poked: bool = False  # an endpoint changed since the last pass (set from a servicer's thread)

    def poke(self) -> None:
        self.poked = True

    def reconcile(self, ctx: Coordinator, now: float, force: bool = False) -> bool:
        """One pass over every endpoint; True when runs were queued or cancelled (the scheduler should look)."""
        if not (force or self.poked) and now - self.last_pass < PASS_S:
            return False
        self.last_pass, self.poked = now, False
        rows = ctx.store.deployments()
        if not rows:
            return False
        replicas: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in ctx.store.replica_rows():
            replicas[r["deployment"]].append(r)
        addresses = ctx.store.addresses([r["run_id"] for rs in replicas.values() for r in rs], ADDRESS_TAG)
        drained = ctx.store.drained_nodes()
        acted = False
        for row in rows:
            mine = replicas.get(row["name"], [])
            if row["state"] == STOPPED:
                acted |= _cancel(ctx, [r for r in mine if not r["cancel_requested"]])
                continue
            if row["state"] != ACTIVE:
                continue
            try:
                acted |= self._one(ctx, row, mine, addresses, drained, now)
            except KilnError as e:  # this endpoint's problem is said on it; the others go on
                self._say(ctx, row["name"], now, "blocked", str(e), key=f"{row['name']}:{e}")
        return acted

    def _one(
        self,
        ctx: Coordinator,
        row: dict[str, Any],
        mine: list[dict[str, Any]],
        addresses: dict[str, str],
        drained: set[str],
        now: float,
    ) -> bool:
        name = row["name"]
        traffic = self._follow_alias(ctx, row, now)
        serving = splits_from(row["serving_json"])
        asked = {s.version for s in traffic}
        needed = asked | {s.version for s in serving}
        live = [r for r in mine if not r["cancel_requested"]]
        ready = {r["run_id"] for r in live if is_ready(r, addresses)}
        acted = False
        for version in sorted(needed):
            of_version = [r for r in live if r["version"] == version]
            staying = [r for r in of_version if r["node"] not in drained]
            want = row["replicas"]
            if len(staying) < want:
                acted |= self._start(ctx, row, version, want - len(staying), now)
            elif len(staying) > want:  # scaled down: the not-ready and newest go first
                extra = sorted(staying, key=lambda r: (r["run_id"] in ready, -r["created_at"]))[: len(staying) - want]
                acted |= _cancel(ctx, extra)
            leaving = [r for r in of_version if r["node"] in drained]
            if leaving and sum(1 for r in staying if r["run_id"] in ready) >= want:
                acted |= _cancel(ctx, leaving)
        since = row["serving_since"]
        if traffic != serving and all(any(r["version"] == v and r["run_id"] in ready for r in live) for v in asked):
            text = splits_text(traffic)
            with ctx.store.transaction():
                ctx.store.update_deployment(name, serving=traffic, serving_since=now)
                ctx.store.add_deployment_event(name, now, "serving", text)
            serving, needed, since = traffic, asked, now
        if now - since >= DRAIN_S:  # every gateway routes by the switch by now: what it left may stop
            acted |= _cancel(ctx, [r for r in live if r["version"] not in needed])
        return acted

    def _follow_alias(self, ctx: Coordinator, row: dict[str, Any], now: float) -> tuple[Split, ...]:
        """The traffic asked, after the alias it follows moved: the old main version's weight goes to the new."""
        traffic = splits_from(row["traffic_json"])
        if not row["alias"]:
            return traffic
        current = ctx.store.aliases(row["project"], row["model"]).get(row["alias"], 0)
        main = max((s for s in traffic if not s.shadow), key=lambda s: s.weight, default=None)
        if not current or main is None or main.version == current:
            return traffic
        moved = [s for s in traffic if s.version not in (main.version, current)]
        weight = main.weight + sum(s.weight for s in traffic if s.version == current and not s.shadow)
        traffic = tuple(sorted([*moved, Split(current, weight)], key=lambda s: s.version))
        with ctx.store.transaction():
            ctx.store.update_deployment(row["name"], traffic=traffic)
            ctx.store.add_deployment_event(
                row["name"],
                now,
                "rolling",
                f"alias {row['alias']} moved to version {current}: rolling from version {main.version}",
            )
        return traffic

    def _start(self, ctx: Coordinator, row: dict[str, Any], version: int, count: int, now: float) -> bool:
        wait = _backoff(ctx, row["name"], version, now)
        for ended in ctx.store.recent_replicas(row["name"], version, 8):
            if ended["state"] in ENDED_FAILED and ended["run_id"] not in self.announced:
                self.announced.add(ended["run_id"])
                reason = limits.cut(ended["reason"] or ended["state"], 300)
                cause = f"replica {ended['run_id']} of v{version} {ended['state']}: {reason}; replacing it"
                self._say(ctx, row["name"], now, "replica", cause + (f" in {wait:.0f}s" if wait > 0 else ""))
        if wait > 0:
            return False
        owner = ctx.store.user(row["created_by"])
        who = Principal(row["created_by"], bool(owner and owner.is_admin))
        spec = replica_spec(ctx, row, version)
        for _ in range(count):
            run = runs.queue_internal(ctx, who, spec, "deployment.replica")
            ctx.store.add_replica(run.id, row["name"], version)
        return True

    def _say(self, ctx: Coordinator, name: str, now: float, state: str, cause: str, key: str = "") -> None:
        """An event on the endpoint's history, once per distinct `key` while this coordinator runs."""
        if key:
            if key in self.announced:
                return
            self.announced.add(key)
        ctx.store.add_deployment_event(name, now, state, cause)


def is_ready(replica: dict[str, Any], addresses: dict[str, str]) -> bool:
    """A replica takes requests once its run is running, it told its address, and it is not being stopped."""
    return (
        replica["state"] == RunState.RUNNING.value
        and replica["run_id"] in addresses
        and not replica["cancel_requested"]
    )


def _backoff(ctx: Coordinator, name: str, version: int, now: float) -> float:
    """Seconds still to wait before starting a replica: 2^(n-1) after n failed replicas in a row (at most
    MAX_BACKOFF_S), counted from the last failure's end."""
    recent = [r for r in ctx.store.recent_replicas(name, version, 8) if r["state"] not in LIVE]
    failures = 0
    for r in recent:
        if r["state"] not in ENDED_FAILED:
            break
        failures += 1
    if not failures:
        return 0.0
    pause = min(MAX_BACKOFF_S, 2.0 ** (failures - 1))
    return recent[0]["finished_at"] + pause - now


def _cancel(ctx: Coordinator, rows: list[dict[str, Any]]) -> bool:
    for r in rows:
        run = ctx.store.run(r["run_id"], with_events=False)
        if run is not None and not run.state.terminal:
            runs.stop(ctx.store, run, "replica no longer needed", clock.now())
    return bool(rows)


def replica_spec(ctx: Coordinator, row: dict[str, Any], version: int) -> RunSpec:
    """A replica of `version`: the model version's files (its run's output snapshot), served by kiln.serve in
    the environment the model was trained in (or the endpoint's own), with the interpreter the training run
    used when it named one."""
    found = ctx.store.model_version(row["project"], row["model"], version)
    if found is None:
        raise KilnError(f"model {row['model']} has no version {version}")
    trained = ctx.store.run(found["run_id"], with_events=False)
    assert trained is not None
    command = (
        serving_python(trained.spec.command),
        "-m",
        "kiln.serve",
        "--model",
        found["path"],
        "--name",
        row["name"],
        "--version",
        str(version),
    )
    return RunSpec(
        project=row["project"],
        command=command,
        snapshot=found["snapshot"],
        image=trained.spec.image,
        runtime=trained.spec.runtime,
        resources=Resources(cpus=row["cpus"], memory_bytes=row["memory_bytes"], gpus=row["gpus"]),
        priority=Priority.HIGH,
        env={"KILN_DEPLOYMENT": row["name"], "KILN_MODEL_VERSION": str(version)},
        network="host",
        environment=row["environment"] or trained.spec.environment,
    )


@dataclass
class Routes:
    """The route table every gateway reads, with a generation that changes whenever the table does."""

    generation: int = 0
    _last: dict[str, EndpointRoute] | None = None

    def table(self, ctx: Coordinator) -> RouteTable:
        endpoints = route_endpoints(ctx)
        if endpoints != self._last:
            self._last = endpoints
            self.generation += 1
        return RouteTable(self.generation, endpoints)


def route_endpoints(ctx: Coordinator) -> dict[str, EndpointRoute]:
    rows = ctx.store.deployments(state=ACTIVE)
    if not rows:
        return {}
    replicas: dict[tuple[str, int], list[ReplicaRoute]] = defaultdict(list)
    found = ctx.store.replica_rows()
    addresses = ctx.store.addresses([r["run_id"] for r in found], ADDRESS_TAG)
    for r in found:
        if is_ready(r, addresses):
            replicas[(r["deployment"], r["version"])].append(
                ReplicaRoute(r["run_id"], r["node"], addresses[r["run_id"]])
            )
    table = {}
    for row in rows:
        versions = tuple(
            VersionRoute(s.version, s.weight, s.shadow, tuple(replicas.get((row["name"], s.version), ())))
            for s in splits_from(row["serving_json"])
        )
        table[row["name"]] = EndpointRoute(
            row["project"], row["name"], row["model"], versions, row["sticky_header"], row["sample_rate"]
        )
    return table
