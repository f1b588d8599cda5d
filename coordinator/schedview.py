"""What the scheduler sees of the nodes: capacity from their inventory, use from the runs they hold, and
whether they take work (connected, fresh heartbeat, not drained)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from kiln.coordinator.context import Coordinator
from kiln.core.models import Inventory, Node
from kiln.core.runs import ACTIVE, Run
from kiln.core.scheduling import NodeView

_capacity: tuple[list[Node], list[NodeView]] | None = None


def capacity_views(ctx: Coordinator) -> list[NodeView]:
    """Every enrolled node as its capacity alone (no use, all schedulable), rebuilt only when the store's
    node list changes: submission checks against it whether any node could ever run a run."""
    global _capacity
    nodes = ctx.store.nodes()
    if _capacity is None or _capacity[0] is not nodes:
        views = [
            NodeView(
                n.name, n.inventory.cpus, n.inventory.memory_bytes, n.inventory.gpus, n.labels, frozenset(n.runtimes)
            )
            for n in nodes
        ]
        _capacity = (nodes, views)
    return _capacity[1]


def node_views(ctx: Coordinator, now: float, active: list[Run] | None = None) -> list[NodeView]:
    """The nodes that take work now, with what their active runs use."""
    by_node: dict[str, list[Run]] = defaultdict(list)
    for r in ctx.store.runs(states=ACTIVE) if active is None else active:
        by_node[r.node].append(r)
    drained = {n.name for n in ctx.store.nodes() if n.drained}
    views = []
    for view in capacity_views(ctx):
        if view.name in drained or not ctx.liveness.is_ready(view.name, now):
            continue
        held = ctx.liveness.inventory_of(view.name, Inventory()).environments
        if held:
            view = dataclasses.replace(view, environments=frozenset(held))
        mine = by_node.get(view.name)
        if mine:
            view = dataclasses.replace(
                view,
                used_cpus=sum(r.spec.resources.cpus for r in mine),
                used_memory=sum(r.spec.resources.memory_bytes for r in mine),
                busy_gpus=frozenset(u for r in mine for u in r.gpu_uuids),
            )
        views.append(view)
    return views
