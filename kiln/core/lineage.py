"""Lineage: typed entity ids, the rule an edge must keep, and walking the graph of what flowed into what.

Entity ids: `run:r-…`, `snapshot:<sha256>`, `dataset:<project>/<name>@<version>`,
`model:<project>/<name>@<version>`, `monitor:<project>/<name>@<number>` (one window's result of a
monitor), `deployment:<name>` (an endpoint), `environment:<sha256>` (what a run ran in, as its agent and SDK
reported it, named by a digest of what defines it). An edge src → dst means src flowed into dst; its
relation says how (RELATIONS). Every entity has a birth: the time the coordinator first recorded it (a
run's submission, a snapshot's first recording in any project, a dataset or model version's creation, the
submission of the first run that ran in an environment). Edges carry the time
they were recorded, but what makes lineage honest is the births: an edge is kept only between two
different entities, from one born no later than the other (`in_order`). Content that existed before a
run cannot have come from it, so a run whose output is its own input (or any older snapshot) has no
output edge, no entity is its own ancestor, and walking up from X reaches only what existed before X.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kiln.core.errors import InvalidArgument
from kiln.core.hashing import canonical_json, sha256_bytes

KINDS = ("run", "snapshot", "dataset", "model", "environment", "monitor", "deployment")
# Content, not records: one id in every project that holds it (the same files pushed twice are one
# snapshot). What is attached to such an entity (comments) belongs to the project it was attached in.
SHARED_KINDS = frozenset({"snapshot", "environment"})
# relation -> (kinds of src, kinds of dst): what each edge means
RELATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "input": (("snapshot", "dataset"), ("run",)),  # a run's code snapshot, a dataset version it was given or read
    "parent": (("run",), ("run",)),  # a run started from another (spec.parent_run)
    "rerun": (("run",), ("run",)),  # a run that repeats another exactly (kiln rerun)
    "output": (("run",), ("snapshot",)),  # the snapshot a run left behind, when it is new
    "produced": (("run",), ("model",)),  # a model version registered from a run's output
    "content": (("snapshot",), ("dataset",)),  # the files of a dataset version
    "environment": (("environment",), ("run",)),  # what a run ran in (runtime, image, interpreter, packages)
    "scored_with": (("model",), ("run",)),  # the model version a batch scoring run applied
    "scored": (("run",), ("dataset",)),  # the dataset version a batch scoring run's predictions became
    "monitored": (("deployment", "model", "dataset"), ("monitor",)),  # what a monitor's window judged
    "reference": (("dataset",), ("monitor",)),  # the dataset version a monitor's reference profile came from
}
# What a run's recorded environment says about its node or its own run rather than the software it ran in:
# left out of the environment's identity, so runs in the same image or interpreter share one environment.
NOT_ENVIRONMENT = frozenset({"node", "gpus", "datasets", "driver_version", "cuda_version", "platform"})
_VERSIONED = re.compile(r"(?P<project>[a-z0-9][a-z0-9._-]*)/(?P<name>[a-z0-9][a-z0-9._-]*)@(?P<version>\d+)")
_RUN = re.compile(r"r-[0-9a-z]+", re.IGNORECASE)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SNAPSHOT = re.compile(r"[0-9a-f]{8,64}")
_TYPED_SNAPSHOT = re.compile(r"[0-9a-fA-F]{8,64}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_DEPTH = 50


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    relation: str


def run_id(run: str) -> str:
    return f"run:{run}"


def snapshot_id(snapshot: str) -> str:
    return f"snapshot:{snapshot}"


def dataset_id(project: str, name: str, version: int) -> str:
    return f"dataset:{project}/{name}@{version}"


def model_id(project: str, name: str, version: int) -> str:
    return f"model:{project}/{name}@{version}"


def deployment_id(name: str) -> str:
    """An endpoint (names are unique in the installation: its URL carries no project)."""
    return f"deployment:{name}"


def monitor_id(project: str, name: str, seq: int) -> str:
    """One window's result of a monitor (kiln monitor show NAME lists them by number)."""
    return f"monitor:{project}/{name}@{seq}"


def environment_id(facts: Mapping[str, str]) -> str:
    """The environment a run's recorded facts describe: a digest of those that define the software (not
    the node it ran on); "" when nothing defines it."""
    defining = {k: v for k, v in facts.items() if k not in NOT_ENVIRONMENT}
    if not defining:
        return ""
    return f"environment:{sha256_bytes(canonical_json(defining))}"


def split(entity: str) -> tuple[str, str]:
    """(kind, rest) of a typed id; bare run ids (r-…) and snapshot ids (hex) are accepted too."""
    kind, sep, rest = entity.partition(":")
    if sep and kind in KINDS and rest:
        if kind == "deployment" and not _NAME.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: an endpoint is deployment:NAME (kiln deploy list shows them)")
        if kind == "monitor" and not _VERSIONED.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: a monitor result is monitor:PROJECT/NAME@NUMBER")
        if kind in ("dataset", "model") and not _VERSIONED.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: a {kind} version is {kind}:PROJECT/NAME@VERSION")
        if kind == "run" and not _RUN.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: a run is run:r-… (kiln runs lists them)")
        if kind == "snapshot" and not _TYPED_SNAPSHOT.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: a snapshot is snapshot: and 8 to 64 hex digits of its id")
        if kind == "environment" and not _DIGEST.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: an environment is environment: and the 64 hex digits of its digest")
        return kind, rest
    if _RUN.fullmatch(entity):
        return "run", entity
    if _SNAPSHOT.fullmatch(entity):
        return "snapshot", entity
    raise InvalidArgument(f"not an entity id: {entity!r} (use r-…, a snapshot id, dataset:P/N@V or model:P/N@V)")


def versioned(rest: str) -> tuple[str, str, int]:
    m = _VERSIONED.fullmatch(rest)
    if not m:
        raise InvalidArgument(f"{rest!r} is not PROJECT/NAME@VERSION")
    return m["project"], m["name"], int(m["version"])


def in_order(edge: Edge, born: Mapping[str, float]) -> bool:
    """Whether an edge can be true: between two different entities, from one born no later than the other.
    An end whose birth is unknown does not refuse the edge. The coordinator writes only edges that keep
    this rule and every walk follows only those, so data recorded before the rule (a run's input recorded
    as its output, say) is not walked either."""
    if edge.src == edge.dst:
        return False
    src, dst = born.get(edge.src), born.get(edge.dst)
    return src is None or dst is None or src <= dst


Neighbours = Callable[[set[str], bool], Iterable[Edge]]
Births = Callable[[set[str]], Mapping[str, float]]


def walk(
    root: str, neighbours: Neighbours, up: bool, down: bool, depth: int, births: Births | None = None
) -> tuple[set[str], list[Edge]]:
    """Every entity within `depth` steps of `root` upstream (ancestors) and/or downstream (descendants),
    and the edges between them. `neighbours(frontier, upstream)` gives the edges into (upstream) or out of
    the frontier, one level at a time, so a store answers each level with one query; `births(ids)` gives
    the entities' births (one query per level too), and only edges `in_order` by them are followed. So
    every ancestor was born no later than what it fed, and a later run that happens to share a snapshot
    is never reached going up from an earlier one. The root is never its own ancestor or descendant, and
    each direction keeps its own visited set (an entity reached going up is still walked going down)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidArgument(f"depth must be between 1 and {MAX_DEPTH}")
    born: dict[str, float] = dict(births({root})) if births else {}
    asked = {root}
    ids, edges = {root}, set()
    for upstream, wanted in ((True, up), (False, down)):
        seen, frontier = {root}, {root}
        for _ in range(depth if wanted else 0):
            found = [e for e in neighbours(frontier, upstream) if root != (e.src if upstream else e.dst)]
            if births:
                new = {end for e in found for end in (e.src, e.dst)} - asked
                born.update(births(new))
                asked |= new
            found = [e for e in found if in_order(e, born)]
            edges.update(found)
            frontier = {e.src if upstream else e.dst for e in found} - seen
            seen |= frontier
            if not frontier:
                break
        ids |= seen
    return ids, sorted(edges, key=lambda e: (e.src, e.dst, e.relation))


def to_dot(root: str, nodes: Iterable[tuple[str, str]], edges: Iterable[Edge]) -> str:
    """Graphviz text: one box per entity (id, label), the root filled."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for node, label in sorted(nodes):
        style = ', style=filled, fillcolor="#ffe9a8"' if node == root else ""
        lines.append(f'  "{_esc(node)}" [label="{_esc(label)}"{style}];')
    for e in edges:
        lines.append(f'  "{_esc(e.src)}" -> "{_esc(e.dst)}" [label="{_esc(e.relation)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Entity:
    """What an entity id names, for people: its kind, the project it belongs to, and a short label."""

    id: str  # canonical typed id
    kind: str
    project: str
    label: str


@dataclass(frozen=True)
class LineageGraph:
    """The part of the lineage graph around `root` that a walk reached."""

    root: str
    nodes: tuple[Entity, ...]
    edges: tuple[Edge, ...]

    def node(self, entity_id: str) -> Entity | None:
        return next((n for n in self.nodes if n.id == entity_id), None)
