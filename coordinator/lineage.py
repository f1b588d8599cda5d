"""Lineage queries and the OpenLineage export, over the edges the coordinator recorded itself. Both
follow only edges that keep lineage's rule (`kiln.core.lineage.in_order`), so what was recorded before
the rule existed (a run's input recorded as its output) is not shown either."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import kiln
from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.entities import describe, resolve
from kiln.core import lineage
from kiln.core.lineage import Entity
from kiln.core.openlineage import Origin, Recorded, RunFacts, producer, run_events
from kiln.core.permissions import Need, Principal
from kiln.core.runs import Run

INPUTS = frozenset({"input"})  # into a run: its snapshot and dataset versions (runs it came from: Origin)
OUTPUTS = frozenset({"output", "produced"})  # out of a run: its output snapshot and model versions


def graph(ctx: Coordinator, who: Principal, text: str, direction: str, depth: int) -> lineage.LineageGraph:
    """The root, the entities around it the caller may read, and the edges between those. The walk goes
    only through entities the caller may read: content another project also holds (one snapshot id) is
    never a way into that project's runs, nor through them to what they made."""
    root = resolve(ctx, who, text)
    up, down = direction in ("", "up"), direction in ("", "down")
    seen: dict[str, Entity | None] = {root.id: root}

    def readable(entity_id: str) -> bool:
        if entity_id not in seen:
            seen[entity_id] = describe(ctx, who, entity_id)
        return seen[entity_id] is not None

    def neighbours(frontier: set[str], upstream: bool) -> list[lineage.Edge]:
        return [e for e in ctx.store.edges(frontier, upstream) if readable(e.src if upstream else e.dst)]

    ids, edges = lineage.walk(root.id, neighbours, up, down, depth or 5, ctx.store.births)
    visible = {i: found for i in ids if (found := seen.get(i)) is not None}
    return lineage.LineageGraph(
        root.id,
        tuple(sorted(visible.values(), key=lambda e: e.id)),
        tuple(e for e in edges if e.src in visible and e.dst in visible),
    )


def recorded(ctx: Coordinator, run_id: str, upstream: bool, relations: frozenset[str]) -> list[Recorded]:
    """A run's direct inputs (upstream) or outputs of those relations, each with the time it was recorded."""
    me = lineage.run_id(run_id)
    found = [(e, at) for e, at in ctx.store.edges_of(me, upstream) if e.relation in relations]
    born = ctx.store.births({me} | {e.src if upstream else e.dst for e, _ in found})
    return [Recorded(e.src if upstream else e.dst, at) for e, at in found if lineage.in_order(e, born)]


def _facts(ctx: Coordinator, run: Run, readable: Callable[[str], bool]) -> RunFacts:
    environment = {k: v for k, v in ctx.store.environment(run.id).items() if k != "packages"}
    return RunFacts(
        run.id,
        run.spec.project,
        run.spec.command,
        str(run.state),
        run.user,
        run.created_at,
        run.started_at,
        run.finished_at,
        run.spec.snapshot,
        exit_code=run.exit_code,
        reason=run.reason,
        params=ctx.store.params(run.id),
        inputs=tuple(recorded(ctx, run.id, True, INPUTS)),
        outputs=tuple(recorded(ctx, run.id, False, OUTPUTS)),
        parent=_origin(ctx, run.spec.parent_run, readable),
        rerun_of=_origin(ctx, run.spec.rerun_of, readable),
        environment=environment,
    )


def _origin(ctx: Coordinator, run_id: str, readable: Callable[[str], bool]) -> Origin | None:
    """The run another was started from, if the caller may read it (its job name tells its command)."""
    found = ctx.store.run(run_id, with_events=False) if run_id else None
    if found is None or not readable(found.spec.project):
        return None
    return Origin(found.id, found.spec.project, found.spec.command)


def export_openlineage(ctx: Coordinator, who: Principal, project: str) -> Iterator[str]:
    """One JSON RunEvent per line for every run of `project` (or of every project the caller reads)."""
    if project:
        require_project(ctx.store, who, Need.READ, project)
        projects: list[str] | None = [project]
    else:
        projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, True)]
    readable_projects = None if who.is_admin else {p.name for p in ctx.store.projects(who.user, True)}

    def readable(name: str) -> bool:
        return readable_projects is None or name in readable_projects

    by = producer(kiln.__version__)
    for run in reversed(ctx.store.runs(projects)):
        for event in run_events(_facts(ctx, run, readable), by):
            yield json.dumps(event, sort_keys=True)
