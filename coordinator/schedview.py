"""What the scheduler sees of the nodes: capacity from their inventory, use from the runs they hold, and
whether they take work (connected, fresh heartbeat, not drained)."""

from __future__ import annotations

from kiln.coordinator.context import Coordinator

from kiln.core.runs import ACTIVE
from kiln.core.scheduling import NodeView


def node_views(ctx: Coordinator, include_unschedulable: bool = False) -> list[NodeView]:
    views = []
    active = ctx.store.runs(states=ACTIVE)
    for node in ctx.store.nodes():
        mine = [r for r in active if r.node == node.name]
        schedulable = not node.drained and ctx.liveness.is_ready(node.name)
        if not (schedulable or include_unschedulable):
            continue
        inv = node.inventory
        views.append(
            NodeView(
                node.name,
                inv.cpus,
                inv.memory_bytes,
                inv.gpus,
                node.labels,
                frozenset(node.runtimes),
                schedulable,
                used_cpus=sum(r.spec.resources.cpus for r in mine),
                used_memory=sum(r.spec.resources.memory_bytes for r in mine),
                busy_gpus=frozenset(u for r in mine for u in r.gpu_uuids),
            )
        )
    return views
