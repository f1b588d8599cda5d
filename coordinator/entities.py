"""What an entity id (kiln.core.lineage) names, which project it belongs to, and whether the caller may
read it: the one place lineage, comments and exports resolve ids.

Runs, dataset versions and model versions belong to one project. A snapshot or an environment is content:
the same files pushed into two projects are one snapshot id, recorded once in each. Such an entity is
always read through one project that holds it and that the caller may read (`project`, or the only one),
so what is attached to it there (comments) never shows in another project."""

from __future__ import annotations

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.runs import get_run
from kiln.coordinator.snapshots import resolve_snapshot
from kiln.core import lineage
from kiln.core.errors import NotFound, PermissionDenied
from kiln.core.lineage import Entity
from kiln.core.overview import NAME_TAG
from kiln.core.permissions import Need, Principal

LABEL_CHARS = 80  # of a message or a name in an entity's label: what a lineage box or a graph node shows


def resolve(ctx: Coordinator, who: Principal, text: str, project: str = "") -> Entity:
    """The entity `text` names (typed id, run id, or snapshot id/prefix), if the caller may read it, as seen
    in `project` ("": a project of the caller's that holds it); NotFound if `project` does not hold it."""
    found = _resolve(ctx, who, text, project)
    if project and found.project != project:
        raise NotFound(f"{found.id} is not in project {project!r}")
    return found


def holders(ctx: Coordinator, who: Principal, entity: Entity) -> list[str]:
    """The projects the caller may read that hold `entity` (more than one only for shared content)."""
    if entity.kind == "snapshot":
        names = {s.project for s in ctx.store.snapshots_matching(lineage.split(entity.id)[1])}
    elif entity.kind == "environment":
        runs = ctx.store.runs_by_id([lineage.split(e.dst)[1] for e in _environment_edges(ctx, entity.id)])
        names = {r.spec.project for r in runs}
    else:
        return [entity.project]
    readable = names if who.is_admin else names & {p.name for p in ctx.store.projects(who.user, True)}
    return sorted(readable)


def _resolve(ctx: Coordinator, who: Principal, text: str, project: str) -> Entity:
    kind, rest = lineage.split(text.strip())
    if kind == "run":
        run = get_run(ctx, who, rest, with_events=False)  # an id or a unique prefix
        name = ctx.store.tags(run.id).get(NAME_TAG, "")
        label = f"run {_first_line(name) or run.id} ({run.state})"
        return Entity(lineage.run_id(run.id), "run", run.spec.project, label)
    if kind == "snapshot":
        snap = resolve_snapshot(ctx, who, project, rest)
        label = f"snapshot {_first_line(snap.message) or snap.id[:12]}"
        return Entity(lineage.snapshot_id(snap.id), "snapshot", snap.project, label)
    if kind == "environment":
        return _environment(ctx, who, f"environment:{rest}", project)
    if kind == "deployment":
        row = ctx.store.deployment(rest)
        if row is None:
            raise NotFound(f"no endpoint named {rest!r} (kiln deploy list shows them)")
        require_project(ctx.store, who, Need.READ, row["project"])
        return Entity(f"deployment:{rest}", kind, row["project"], f"endpoint {rest} ({row['model']})")
    project, name, version = lineage.versioned(rest)
    require_project(ctx.store, who, Need.READ, project)
    if kind == "monitor":
        result = ctx.store.monitor_result(project, name, version)
        if result is None:
            raise NotFound(f"monitor {name!r} of project {project!r} has no result {version}")
        health = "no traffic" if result["health"] is None else f"health {result['health']:.0f}"
        return Entity(f"monitor:{rest}", kind, project, f"monitor {name} #{version} ({health})")
    rows = (ctx.store.dataset_versions if kind == "dataset" else ctx.store.model_versions)(project, name)
    if not any(r["version"] == version for r in rows):
        raise NotFound(f"no {kind} {name!r} version {version} in project {project!r}")
    label = f"{kind} {name} v{version}"
    if kind == "model":
        aliases = sorted(a for a, v in ctx.store.aliases(project, name).items() if v == version)
        label += f" · {', '.join(aliases)}" if aliases else ""
    return Entity(f"{kind}:{rest}", kind, project, label)


def _first_line(text: str) -> str:
    """What a label keeps of a person's text (a snapshot's message, a run's name): its first line, short."""
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= LABEL_CHARS else line[: LABEL_CHARS - 1].rstrip() + "…"


def describe(ctx: Coordinator, who: Principal, entity_id: str) -> Entity | None:
    """The entity if the caller may read it, else None (lineage shows only what one may see)."""
    try:
        return resolve(ctx, who, entity_id)
    except (NotFound, PermissionDenied):
        return None


def _environment_edges(ctx: Coordinator, entity_id: str) -> list[lineage.Edge]:
    return sorted(
        (e for e in ctx.store.edges({entity_id}, upstream=False) if e.relation == "environment"), key=lambda e: e.dst
    )


def _environment(ctx: Coordinator, who: Principal, entity_id: str, project: str) -> Entity:
    """An environment belongs to no project of its own: the caller sees it through a run of theirs (in
    `project`, when given) that ran in it, and it is labelled from that run's record."""
    runs = [e.dst for e in _environment_edges(ctx, entity_id)]
    if not runs:
        raise NotFound(f"no run ran in {entity_id}")
    for run_entity in runs:
        try:
            run = get_run(ctx, who, lineage.split(run_entity)[1], with_events=False)
        except (NotFound, PermissionDenied):
            continue
        if project and run.spec.project != project:
            continue
        return Entity(entity_id, "environment", run.spec.project, _label(entity_id, ctx.store.environment(run.id)))
    if project:
        raise NotFound(f"no run of project {project!r} ran in {entity_id}")
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
