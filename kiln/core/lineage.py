"""Lineage: typed entity ids, and walking the graph of what flowed into what.

Entity ids: `run:r-…`, `snapshot:<sha256>`, `dataset:<project>/<name>@<version>`,
`model:<project>/<name>@<version>`. An edge src → dst means src flowed into dst: a snapshot or dataset
version into a run, a snapshot into a dataset version, a run into its output snapshot and the model
versions registered from it, a parent run into the run started from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kiln.core.errors import InvalidArgument

KINDS = ("run", "snapshot", "dataset", "model")
_VERSIONED = re.compile(r"(?P<project>[a-z0-9][a-z0-9._-]*)/(?P<name>[a-z0-9][a-z0-9._-]*)@(?P<version>\d+)")
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


def split(entity: str) -> tuple[str, str]:
    """(kind, rest) of a typed id; bare run ids (r-…) and snapshot ids (hex) are accepted too."""
    kind, sep, rest = entity.partition(":")
    if sep and kind in KINDS and rest:
        if kind in ("dataset", "model") and not _VERSIONED.fullmatch(rest):
            raise InvalidArgument(f"{entity!r}: a {kind} version is {kind}:PROJECT/NAME@VERSION")
        return kind, rest
    if entity.startswith("r-"):
        return "run", entity
    if re.fullmatch(r"[0-9a-f]{8,64}", entity):
        return "snapshot", entity
    raise InvalidArgument(f"not an entity id: {entity!r} (use r-…, a snapshot id, dataset:P/N@V or model:P/N@V)")


def versioned(rest: str) -> tuple[str, str, int]:
    m = _VERSIONED.fullmatch(rest)
    if not m:
        raise InvalidArgument(f"{rest!r} is not PROJECT/NAME@VERSION")
    return m["project"], m["name"], int(m["version"])


Neighbours = Callable[[set[str], bool], Iterable[Edge]]


def walk(root: str, neighbours: Neighbours, up: bool, down: bool, depth: int) -> tuple[set[str], list[Edge]]:
    """Every entity within `depth` steps of `root` upstream (ancestors) and/or downstream (descendants),
    and the edges between them. `neighbours(frontier, upstream)` gives the edges into (upstream) or out of
    the frontier, one level at a time, so a store answers each level with one query."""
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidArgument(f"depth must be between 1 and {MAX_DEPTH}")
    seen, edges = {root}, set()
    for upstream, wanted in ((True, up), (False, down)):
        frontier = {root}
        for _ in range(depth if wanted else 0):
            found = list(neighbours(frontier, upstream))
            edges.update(found)
            frontier = {e.src if upstream else e.dst for e in found} - seen
            seen |= frontier
            if not frontier:
                break
    return seen, sorted(edges, key=lambda e: (e.src, e.dst, e.relation))


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
