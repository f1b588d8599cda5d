"""Runs: submission, listing, cancelling, and the one function through which a run changes state."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.datasets import resolve_inputs
from kiln.coordinator.schedview import capacity_views
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.coordinator.store import SqliteStore
from kiln.core import clock, lineage
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound
from kiln.core.permissions import Need, Principal
from kiln.core.runs import Run, RunEvent, RunSpec, RunState, check_transition
from kiln.core.scheduling import Pending, never_fits

MAX_RETRIES = 10
NETWORK_MODES = frozenset({"none", "host", "bridge"})


def pending(run: Run) -> Pending:
    s = run.spec
    return Pending(run.id, run.user, int(s.priority), run.created_at, s.resources, s.runtime, s.image, s.node_labels)


def submit(ctx: Coordinator, who: Principal, spec: RunSpec) -> Run:
    require_project(ctx.store, who, Need.WRITE, spec.project)
    if not spec.command or not all(spec.command):
        raise InvalidArgument("a run needs a command (kiln run -- python train.py)")
    if not 0 <= spec.retries <= MAX_RETRIES:
        raise InvalidArgument(f"retries must be between 0 and {MAX_RETRIES}")
    r = spec.resources
    if r.cpus <= 0 or r.gpus < 0 or r.memory_bytes < 0:
        raise InvalidArgument("cpus must be positive; memory and gpus must not be negative")
    if spec.network not in NETWORK_MODES:
        raise InvalidArgument(f"network must be one of {', '.join(sorted(NETWORK_MODES))}")
    snapshot = resolve_snapshot(ctx, who, spec.project, spec.snapshot).id if spec.snapshot else ""
    datasets = resolve_inputs(ctx, spec.project, spec.datasets)
    if spec.parent_run:
        get_run(ctx, who, spec.parent_run)
    exact = tuple(f"{name}:{version}" for name, version, _ in datasets)
    run = Run(
        f"r-{secrets.token_hex(6)}",
        replace(spec, snapshot=snapshot, datasets=exact),
        who.user,
        RunState.QUEUED,
        clock.now(),
    )
    reason = never_fits(pending(run), capacity_views(ctx))
    if reason:
        raise FailedPrecondition(f"run refused: {reason}")
    with ctx.store.transaction():
        ctx.store.add_run(run)
        ctx.store.add_edges(_input_edges(run, datasets), run.created_at)
        ctx.store.add_run_event(run.id, RunEvent(run.created_at, RunState.QUEUED, f"submitted by {who.user}"))
        ctx.store.append_audit(who.user, "run.submit", run.id, {"project": spec.project, "command": list(spec.command)})
    return get_run(ctx, who, run.id)


def _input_edges(run: Run, datasets: list[tuple[str, int, str]]) -> list[lineage.Edge]:
    """What the coordinator itself knows flows into the run: its snapshot, datasets and parent run."""
    me = lineage.run_id(run.id)
    edges = [lineage.Edge(lineage.dataset_id(run.spec.project, n, v), me, "input") for n, v, _ in datasets]
    if run.spec.snapshot:
        edges.append(lineage.Edge(lineage.snapshot_id(run.spec.snapshot), me, "input"))
    if run.spec.parent_run:
        edges.append(lineage.Edge(lineage.run_id(run.spec.parent_run), me, "parent"))
    return edges


def get_run(ctx: Coordinator, who: Principal, run_id: str) -> Run:
    run = ctx.store.run(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} (kiln runs lists them)")
    require_project(ctx.store, who, Need.READ, run.spec.project)
    return run


def list_runs(ctx: Coordinator, who: Principal, project: str, state: str, limit: int) -> list[Run]:
    if state and state not in RunState.__members__.values():
        raise InvalidArgument(f"unknown state {state!r}; use one of {', '.join(s.value for s in RunState)}")
    if project:
        require_project(ctx.store, who, Need.READ, project)
        projects: list[str] | None = [project]
    else:
        projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, True)]
    return ctx.store.runs(projects, [state] if state else (), limit=limit or 1000)


def cancel(ctx: Coordinator, who: Principal, run_id: str) -> Run:
    run = get_run(ctx, who, run_id)
    require_project(ctx.store, who, Need.WRITE, run.spec.project)
    if run.state.terminal:
        raise FailedPrecondition(f"run {run_id} already ended ({run.state})")
    with ctx.store.transaction():
        if run.state is RunState.QUEUED:
            transition(ctx.store, run, RunState.CANCELLED, f"cancelled by {who.user} while queued", clock.now())
        else:
            ctx.store.update_run(run_id, cancel_requested=True)
        ctx.store.append_audit(who.user, "run.cancel", run_id, {"state": str(run.state)})
    return get_run(ctx, who, run_id)


def transition(store: SqliteStore, run: Run, new: RunState, cause: str, now: float, **fields: Any) -> None:
    """Moves a run to `new` at `now`, recording why; refuses moves the state machine does not allow."""
    check_transition(run.state, new)
    if new is RunState.RUNNING and not run.started_at:
        fields.setdefault("started_at", now)
    if new.terminal:
        fields.setdefault("finished_at", now)
    with store.transaction():
        store.update_run(run.id, state=new, **fields)
        store.add_run_event(
            run.id,
            RunEvent(now, new, cause, fields.get("node", run.node), fields.get("attempt", run.attempt)),
        )
