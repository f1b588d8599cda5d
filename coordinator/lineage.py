"""Lineage queries and the OpenLineage export, over the edges the coordinator recorded itself."""

from __future__ import annotations

import json
from collections.abc import Iterator

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.entities import describe, resolve
from kiln.core import lineage
from kiln.core.openlineage import RunFacts, run_events
from kiln.core.permissions import Need, Principal
from kiln.core.runs import Run


def graph(ctx: Coordinator, who: Principal, text: str, direction: str, depth: int) -> lineage.LineageGraph:
    """The root, the entities around it the caller may read, and the edges between those."""
    root = resolve(ctx, who, text)
    up, down = direction in ("", "up"), direction in ("", "down")
    ids, edges = lineage.walk(root.id, ctx.store.edges, up, down, depth or 5)
    visible = {e.id: e for e in (describe(ctx, who, i) for i in ids) if e is not None}
    visible[root.id] = root
    return lineage.LineageGraph(
        root.id,
        tuple(sorted(visible.values(), key=lambda e: e.id)),
        tuple(e for e in edges if e.src in visible and e.dst in visible),
    )


def _facts(ctx: Coordinator, run: Run) -> RunFacts:
    me = lineage.run_id(run.id)
    inputs = tuple(sorted(e.src for e in ctx.store.edges({me}, upstream=True)))
    outputs = tuple(sorted(e.dst for e in ctx.store.edges({me}, upstream=False)))
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
        inputs,
        outputs,
        environment,
    )


def export_openlineage(ctx: Coordinator, who: Principal, project: str) -> Iterator[str]:
    """One JSON RunEvent per line for every run of `project` (or of every project the caller reads)."""
    if project:
        require_project(ctx.store, who, Need.READ, project)
        projects: list[str] | None = [project]
    else:
        projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, True)]
    for run in reversed(ctx.store.runs(projects)):
        for event in run_events(_facts(ctx, run)):
            yield json.dumps(event, sort_keys=True)
