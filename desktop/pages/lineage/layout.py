"""Laying out a lineage graph left to right, as plain data: each entity gets a layer (a column) by the
longest path from the sources, so everything an entity came from stands to its left; within a column,
entities are ordered by where their sources stand (the barycentre), which keeps most edges short and
uncrossed. No layout engine: a lineage neighbourhood has tens of nodes, not thousands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kiln.core.lineage import Edge, Entity


def forward_preds(ids: Iterable[str], edges: Iterable[Edge]) -> dict[str, set[str]]:
    """Each entity's sources, without the edges that close a cycle. The coordinator returns acyclic
    lineage (it follows only edges from older to younger entities), so this is a guard, not a fix: should
    a graph ever loop, a depth-first walk from the sources drops each edge that leads back onto the walk's
    own path, so layering always ends."""
    ids = sorted(set(ids))
    succs: dict[str, list[str]] = {i: [] for i in ids}
    preds: dict[str, set[str]] = {i: set() for i in ids}
    for e in edges:
        if e.src in succs and e.dst in succs and e.src != e.dst:
            succs[e.src].append(e.dst)
            preds[e.dst].add(e.src)
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> None:
        on_path.add(node)
        for nxt in sorted(succs[node]):
            if nxt in on_path:
                preds[nxt].discard(node)  # the edge back onto the path: ignored for the layout
            elif nxt not in done:
                visit(nxt)
        on_path.discard(node)
        done.add(node)

    for start in sorted(ids, key=lambda i: (bool(preds[i]), i)):  # sources first, then what a loop hides
        if start not in done:
            visit(start)
    return preds


def layers(ids: Iterable[str], edges: Iterable[Edge]) -> dict[str, int]:
    """The longest path from a source to each entity (cycles broken as `forward_preds` says)."""
    preds = forward_preds(ids, edges)
    layer: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in layer:
            layer[node] = max((depth(p) + 1 for p in preds[node]), default=0)
        return layer[node]

    for node in preds:
        depth(node)
    return layer


def arrange(nodes: Sequence[Entity], edges: Sequence[Edge]) -> dict[str, tuple[int, int]]:
    """(column, row) for each entity: columns by layer, rows ordered by the mean row of the entity's
    sources in earlier columns, then by kind and label so the same graph always looks the same."""
    by_id = {n.id: n for n in nodes}
    layer = layers(by_id, edges)
    preds: dict[str, list[str]] = {i: [] for i in by_id}
    for e in edges:
        if e.src in by_id and e.dst in by_id:
            preds[e.dst].append(e.src)
    place: dict[str, tuple[int, int]] = {}
    for column in range(max(layer.values(), default=-1) + 1):
        members = [i for i in by_id if layer[i] == column]

        def weight(i: str) -> tuple[float, str, str]:
            rows = [place[p][1] for p in preds[i] if p in place]
            centre = sum(rows) / len(rows) if rows else -1.0
            return centre, by_id[i].kind, by_id[i].label

        for row, i in enumerate(sorted(members, key=weight)):
            place[i] = (column, row)
    return place
