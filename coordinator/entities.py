"""What an entity id (kiln.core.lineage) names, which project it belongs to, and whether the caller may
read it: the one place lineage, comments and exports resolve ids."""

from __future__ import annotations

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.runs import get_run
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.core import lineage
from kiln.core.errors import NotFound, PermissionDenied
from kiln.core.lineage import Entity
from kiln.core.permissions import Need, Principal


def resolve(ctx: Coordinator, who: Principal, text: str) -> Entity:
    """The entity `text` names (typed id, run id, or snapshot id/prefix), if the caller may read it."""
    kind, rest = lineage.split(text.strip())
    if kind == "run":
        run = get_run(ctx, who, rest, with_events=False)  # an id or a unique prefix
        return Entity(lineage.run_id(run.id), "run", run.spec.project, f"run {run.id} ({run.state})")
    if kind == "snapshot":
        snap = resolve_snapshot(ctx, who, "", rest)
        return Entity(lineage.snapshot_id(snap.id), "snapshot", snap.project, f"snapshot {snap.id[:12]}")
    if kind == "environment":
        return _environment(ctx, who, f"environment:{rest}")
    project, name, version = lineage.versioned(rest)
    require_project(ctx.store, who, Need.READ, project)
    rows = (ctx.store.dataset_versions if kind == "dataset" else ctx.store.model_versions)(project, name)
    if not any(r["version"] == version for r in rows):
        raise NotFound(f"no {kind} {name!r} version {version} in project {project!r}")
    return Entity(f"{kind}:{rest}", kind, project, f"{kind} {name} v{version}")


def describe(ctx: Coordinator, who: Principal, entity_id: str) -> Entity | None:
    """The entity if the caller may read it, else None (lineage shows only what one may see)."""
    try:
        return resolve(ctx, who, entity_id)
    except (NotFound, PermissionDenied):
        return None


def _environment(ctx: Coordinator, who: Principal, entity_id: str) -> Entity:
    """An environment belongs to no project of its own: the caller sees it through a run of theirs that
    ran in it, and it is labelled from that run's record."""
    runs = sorted(e.dst for e in ctx.store.edges({entity_id}, upstream=False) if e.relation == "environment")
    if not runs:
        raise NotFound(f"no run ran in {entity_id}")
    for run_entity in runs:
        try:
            run = get_run(ctx, who, lineage.split(run_entity)[1], with_events=False)
        except (NotFound, PermissionDenied):
            continue
        return Entity(entity_id, "environment", run.spec.project, _label(entity_id, ctx.store.environment(run.id)))
    raise PermissionDenied(f"{entity_id} is only used by runs of projects you are not a member of")


def _label(entity_id: str, facts: dict[str, str]) -> str:
    what = [facts.get("runtime", "")]
    if facts.get("image"):
        what.append(facts["image"])
    if facts.get("python"):
        what.append(f"{facts.get('implementation', 'Python')} {facts['python']}")
    if facts.get("packages"):
        what.append(f"{len(facts['packages'].splitlines())} packages")
    return f"environment {entity_id.partition(':')[2][:12]} ({', '.join(w for w in what if w)})"
