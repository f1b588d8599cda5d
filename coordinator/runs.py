"""Runs: submission, listing, cancelling, and the one function through which a run changes state."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from kiln.coordinator import environments
from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.datasets import resolve_inputs
from kiln.coordinator.schedview import capacity_views
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.coordinator.store import SqliteStore
from kiln.core import clock, limits, lineage
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound
from kiln.core.names import check_env, check_labels, check_name
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Need, Principal
from kiln.core.runs import RUN_ID_BYTES, Run, RunEvent, RunSpec, RunState, check_transition, new_run_id
from kiln.core.scheduling import Pending, never_fits

MAX_RETRIES = 10
NETWORK_MODES = frozenset({"none", "host", "bridge"})
RUN_ID_MIN_DIGITS = 4  # the shortest prefix that may name a run (r-1a2b)
_HEX = "0123456789abcdef"


def pending(run: Run, environment: str = "") -> Pending:
    """`run` as the scheduler sees it; `environment` is the digest of its environment (environments.digest_of)."""
    s = run.spec
    return Pending(
        run.id, run.user, int(s.priority), run.created_at, s.resources, s.runtime, s.image, s.node_labels, environment
    )


def submit(ctx: Coordinator, who: Principal, spec: RunSpec) -> Run:
    if spec.rerun_of:  # lineage records what the coordinator saw: only it may say a run repeats another
        raise InvalidArgument("a run is recorded as a rerun only by the coordinator: use kiln rerun RUN")
    if spec.builds:
        raise InvalidArgument("build runs are queued by the coordinator: use kiln env create")
    return _queue(ctx, who, spec, "run.submit")


def rerun(ctx: Coordinator, who: Principal, run_id: str) -> Run:
    """A new run of exactly what `run_id` ran: its snapshot, the dataset versions it was given, its
    environment version (or image) and runtime, command, env, resources, priority, labels, retries, network
    and parent. Whoever may submit in the run's project may rerun it; a build run is rebuilt by
    kiln env create."""
    old = get_run(ctx, who, run_id, with_events=False)
    if old.spec.builds:
        raise InvalidArgument(f"run {old.id} built environment {old.spec.builds}; build it again with kiln env create")
    return _queue(ctx, who, replace(old.spec, rerun_of=old.id), "run.rerun")


def queue_internal(ctx: Coordinator, who: Principal, spec: RunSpec, action: str) -> Run:
    """A run the coordinator queues on `who`'s behalf (a deployment's replica, a batch scoring), checked and
    recorded as any submission is."""
    return _queue(ctx, who, spec, action)


def _queue(ctx: Coordinator, who: Principal, spec: RunSpec, action: str) -> Run:
    require_project(ctx.store, who, Need.WRITE, spec.project)
    check_spec(spec)
    snapshot = resolve_snapshot(ctx, who, spec.project, spec.snapshot).id if spec.snapshot else ""
    datasets = resolve_inputs(ctx, spec.project, spec.datasets)
    parent = get_run(ctx, who, spec.parent_run, with_events=False).id if spec.parent_run else ""
    spec, env = environments.pin(ctx, spec)
    exact = tuple(f"{name}:{version}" for name, version, _ in datasets)
    run = Run(
        new_run_id(),
        replace(spec, snapshot=snapshot, datasets=exact, parent_run=parent),
        who.user,
        RunState.QUEUED,
        clock.now(),
    )
    reason = never_fits(pending(run, env.digest if env else ""), capacity_views(ctx))
    if reason:
        raise FailedPrecondition(f"run refused: {reason}")
    queued = RunEvent(run.created_at, RunState.QUEUED, f"submitted by {who.user}")
    with ctx.store.transaction():
        ctx.store.add_run(run)
        ctx.store.add_edges(_input_edges(run, datasets), run.created_at)
        ctx.store.add_run_event(run.id, queued)
        details: dict[str, object] = {"project": spec.project, "command": list(spec.command)}
        if spec.rerun_of:
            details["rerun_of"] = spec.rerun_of
        if run.spec.environment:
            details["environment"] = run.spec.environment
        ctx.store.append_audit(who.user, action, run.id, details)
    return replace(run, events=(queued,))  # as the store now holds it (committed), without reading it back


def check_spec(spec: RunSpec) -> None:
    """Refuses a spec that is malformed or over the limits (kiln.core.limits) before anything is looked up
    or stored: a run's spec travels in every listing of runs, in the audit log and to its node."""
    if not spec.command or not all(spec.command):
        raise InvalidArgument("a run needs a command (kiln run -- python train.py)")
    limits.COMMAND.check(spec.command)
    for word in spec.command:
        limits.COMMAND_ARGUMENT.check(word)
        if "\0" in word:
            raise InvalidArgument("a run's command cannot contain a NUL character")
    limits.COMMAND_BYTES.check_amount(sum(limits.utf8_size(w) for w in spec.command))
    if not 0 <= spec.retries <= MAX_RETRIES:
        raise InvalidArgument(f"retries must be between 0 and {MAX_RETRIES}")
    r = spec.resources
    if not 0 < r.cpus < math.inf or r.gpus < 0 or r.memory_bytes < 0:  # NaN cpus fail this too
        raise InvalidArgument("cpus must be a positive number; memory and gpus must not be negative")
    _printable(limits.GPU_MODEL.check(r.gpu_model), "gpu model")
    check_env(spec.env)
    check_labels(spec.node_labels)
    if spec.network not in NETWORK_MODES:
        raise InvalidArgument(f"network must be one of {', '.join(sorted(NETWORK_MODES))}")
    _printable(limits.IMAGE.check(spec.image), "image", spaces=False)
    limits.REFERENCE.check(spec.environment, field="environment")
    if spec.runtime:
        check_name("runtime", spec.runtime)
    for ref, what in ((spec.snapshot, "snapshot id"), (spec.parent_run, "parent run id")):
        limits.REFERENCE.check(ref, field=what)
    for text in limits.RUN_DATASETS.check(spec.datasets):
        limits.REFERENCE.check(text, field="dataset")


def _printable(text: str, what: str, spaces: bool = True) -> None:
    if not text.isprintable() or (not spaces and any(c.isspace() for c in text)):
        banned = "a control character" if spaces else "a space or a control character"
        raise InvalidArgument(f"{what} {limits.preview(text)} contains {banned}")


def _input_edges(run: Run, datasets: list[tuple[str, int, str]]) -> list[lineage.Edge]:
    """What the coordinator itself knows flows into the run: its snapshot, datasets and parent run."""
    me = lineage.run_id(run.id)
    edges = [lineage.Edge(lineage.dataset_id(run.spec.project, n, v), me, "input") for n, v, _ in datasets]
    if run.spec.snapshot:
        edges.append(lineage.Edge(lineage.snapshot_id(run.spec.snapshot), me, "input"))
    if run.spec.parent_run:
        edges.append(lineage.Edge(lineage.run_id(run.spec.parent_run), me, "parent"))
    if run.spec.rerun_of:
        edges.append(lineage.Edge(lineage.run_id(run.spec.rerun_of), me, "rerun"))
    return edges


def get_run(ctx: Coordinator, who: Principal, run_id: str, with_events: bool = True) -> Run:
    """The run an id, or a unique prefix of one (r- and at least RUN_ID_MIN_DIGITS hex digits), names, if
    the caller may read it. A prefix matches only runs the caller may read, so it tells nobody what runs
    other projects hold."""
    ref = run_id.strip()
    run = ctx.store.run(ref, with_events) if ref else None
    if run is None:
        run = _by_prefix(ctx, who, ref, with_events)
    require_project(ctx.store, who, Need.READ, run.spec.project)
    return run


def _by_prefix(ctx: Coordinator, who: Principal, ref: str, with_events: bool) -> Run:
    digits = ref.lower().removeprefix("r-")
    missing = NotFound(f"no run {ref!r} (kiln runs lists them)")
    if not ref.lower().startswith("r-") or not digits or len(digits) >= 2 * RUN_ID_BYTES or digits.strip(_HEX):
        raise missing
    if len(digits) < RUN_ID_MIN_DIGITS:
        raise InvalidArgument(
            f"run id prefix {ref!r} is too short: give r- and at least {RUN_ID_MIN_DIGITS} hex digits"
        )
    projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, True)]
    readable = ctx.store.runs_matching("r-" + digits, projects)
    if not readable:
        raise missing
    if len(readable) > 1:
        shown = ", ".join(r.id for r in readable[:5]) + (", …" if len(readable) > 5 else "")
        raise InvalidArgument(f"run id prefix {ref!r} is ambiguous ({shown}): give more of the id")
    found = ctx.store.run(readable[0].id, with_events)
    assert found is not None
    return found


def list_runs(ctx: Coordinator, who: Principal, project: str, state: str, page: PageRequest) -> Page[Run]:
    """One page of the runs of `project` (or of every project the caller reads), newest first."""
    if state and state not in RunState.__members__.values():
        raise InvalidArgument(f"unknown state {state!r}; use one of {', '.join(s.value for s in RunState)}")
    before = (float(page.after[0]), str(page.after[1])) if page.after else None
    found = ctx.store.runs(readable_projects(ctx, who, project), [state] if state else (), "", page.size + 1, before)
    return page_of(found, page.size, lambda r: (r.created_at, r.id))


def readable_projects(ctx: Coordinator, who: Principal, project: str) -> list[str] | None:
    """The projects a listing of `project` ("": every one the caller reads) covers; None: all of them."""
    if project:
        require_project(ctx.store, who, Need.READ, project)
        return [project]
    return None if who.is_admin else [p.name for p in ctx.store.projects(who.user, True)]


def cancel(ctx: Coordinator, who: Principal, run_id: str) -> Run:
    run = get_run(ctx, who, run_id)
    require_project(ctx.store, who, Need.WRITE, run.spec.project)
    if run.state.terminal:
        raise FailedPrecondition(f"run {run.id} already ended ({run.state})")
    with ctx.store.transaction():
        stop(ctx.store, run, f"cancelled by {who.user} while queued", clock.now())
        ctx.store.append_audit(who.user, "run.cancel", run.id, {"state": str(run.state)})
    return get_run(ctx, who, run.id)


def stop(store: SqliteStore, run: Run, queued_cause: str, now: float) -> None:
    """Ends a run that has not ended: a queued one at once (`queued_cause` says why), one on a node by
    asking its agent (SIGTERM, the grace, then SIGKILL; the dispatcher sends it)."""
    if run.state is RunState.QUEUED:
        transition(store, run, RunState.CANCELLED, queued_cause, now)
    elif not run.node and run.state is RunState.RUNNING:  # made through the MLflow API: no agent to ask
        transition(store, run, RunState.CANCELLED, "cancelled (a run logged from outside: its client is not told)", now)
    else:
        store.update_run(run.id, cancel_requested=True)


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
