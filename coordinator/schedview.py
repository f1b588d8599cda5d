"""What the scheduler sees of the nodes: capacity from their inventory, use from the runs they hold, and
whether they take work (connected, fresh heartbeat, not drained)."""

from __future__ import annotations

from kiln.coordinator.context import Coordinator
from kiln.coordinator.store.placement import ActiveUse, NodeUse
from kiln.core.models import Node
from kiln.core.scheduling import NodeView

_capacity: tuple[list[Node], list[NodeView], frozenset[str]] | None = None


def _capacity_of(ctx: Coordinator) -> tuple[list[NodeView], frozenset[str]]:
    """Every enrolled node as its capacity alone (no use, all schedulable), and the drained ones' names,
    rebuilt only when the store's node list changes."""
    global _capacity
    nodes = ctx.store.nodes()
    if _capacity is None or _capacity[0] is not nodes:
        views = [
            NodeView(
                n.name, n.inventory.cpus, n.inventory.memory_bytes, n.inventory.gpus, n.labels, frozenset(n.runtimes)
            )
            for n in nodes
        ]
        _capacity = (nodes, views, frozenset(n.name for n in nodes if n.drained))
    return _capacity[1], _capacity[2]


def capacity_views(ctx: Coordinator) -> list[NodeView]:
    """Submission checks against these whether any node could ever run a run."""
    return _capacity_of(ctx)[0]


def node_views(ctx: Coordinator, now: float, use: ActiveUse | None = None) -> list[NodeView]:
    """The nodes that take work now, with what their active runs use (`use`, read from the store when not
    given). Called on every tick, so a node with nothing held and nothing running costs a dict look-up."""
    views, drained = _capacity_of(ctx)
    ready = ctx.liveness.ready(now)
    if use is None:
        use = ctx.store.active_use()
    found = []
    for view in views:
        inventory = ready.get(view.name)
        if inventory is None or view.name in drained:
            continue
        mine = use.nodes.get(view.name)
        if mine is not None or inventory.environments:  # built directly: dataclasses.replace costs 3x
            mine = mine or NodeUse()
            held = frozenset(inventory.environments) if inventory.environments else view.environments
            view = NodeView(
                view.name,
                view.cpus,
                view.memory_bytes,
                view.gpus,
                view.labels,
                view.runtimes,
                view.schedulable,
                mine.cpus,
                mine.memory_bytes,
                mine.gpu_uuids,
                held,
            )
        found.append(view)
    return found
