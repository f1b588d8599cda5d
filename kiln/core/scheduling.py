"""The scheduler: a pure function from the queue and the nodes to placements.

Runs are taken by priority, then by fair share (the user with the fewest runs on the cluster first), then
first come first served. Each goes to a node that fits it now (CPU, memory, GPU count and model, labels,
runtime); GPUs are given by UUID and never shared. Among the nodes that fit, one that already holds the
run's environment built comes first (a node that lacks it must fetch or build it before the run starts). A
run that fits no node right now waits; a run no node could ever fit is refused at submission (`never_fits`).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from kiln.core.models import GpuInfo as Gpu
from kiln.core.runs import Resources
from kiln.core.units import format_bytes


@dataclass(frozen=True)
class NodeView:
    """A node as the scheduler sees it: what it has, what is in use, and whether it takes work."""

    name: str
    cpus: float
    memory_bytes: int
    gpus: tuple[Gpu, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    runtimes: frozenset[str] = frozenset()
    schedulable: bool = True  # connected and not drained
    used_cpus: float = 0.0
    used_memory: int = 0
    busy_gpus: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()  # digests of the environments it holds built


@dataclass(frozen=True)
class Pending:
    run_id: str
    user: str
    priority: int
    submitted_at: float
    resources: Resources
    runtime: str = ""
    image: str = ""
    node_labels: dict[str, str] = field(default_factory=dict)
    environment: str = ""  # the digest of its environment, "" for none


@dataclass(frozen=True)
class Placement:
    run_id: str
    node: str
    runtime: str
    gpu_uuids: tuple[str, ...]


def _runtime_for(run: Pending, node: NodeView) -> str | None:
    if run.runtime:
        return run.runtime if run.runtime in node.runtimes else None
    if run.image and "docker" in node.runtimes:
        return "docker"
    if not run.image and "process" in node.runtimes:
        return "process"
    return next(iter(sorted(node.runtimes)), None) if not run.image else None


def _matching_gpus(run: Pending, gpus: Iterable[Gpu]) -> list[Gpu]:
    model = run.resources.gpu_model.lower()
    return [g for g in gpus if model in g.model.lower()]


def mismatch(run: Pending, node: NodeView) -> str | None:
    """Why `node` could never run `run`, judged on its total capacity; None when it could."""
    r = run.resources
    if _runtime_for(run, node) is None:
        wanted = run.runtime or ("docker (an image was given)" if run.image else "any")
        return f"{node.name}: no {wanted} runtime (has {', '.join(sorted(node.runtimes)) or 'none'})"
    missing = {k: v for k, v in run.node_labels.items() if node.labels.get(k) != v}
    if missing:
        return f"{node.name}: lacks labels {', '.join(f'{k}={v}' for k, v in sorted(missing.items()))}"
    if r.cpus > node.cpus:
        return f"{node.name}: {r.cpus:g} CPUs asked, {node.cpus:g} there"
    if r.memory_bytes > node.memory_bytes:
        return f"{node.name}: {format_bytes(r.memory_bytes)} of memory asked, {format_bytes(node.memory_bytes)} there"
    if r.gpus and len(_matching_gpus(run, node.gpus)) < r.gpus:
        model = f" matching {r.gpu_model!r}" if r.gpu_model else ""
        return f"{node.name}: {r.gpus} GPUs{model} asked, {len(_matching_gpus(run, node.gpus))} there"
    return None


def never_fits(run: Pending, nodes: Iterable[NodeView]) -> str | None:
    """None if some node could run `run` once it is free; else the reason for each node."""
    reasons = []
    for node in nodes:
        reason = mismatch(run, node)
        if reason is None:
            return None
        reasons.append(reason)
    if not reasons:
        return "no nodes are registered; start an agent (kiln agent, or kiln up on one machine)"
    return "no node can ever run it: " + "; ".join(reasons)


def _order(queue: list[Pending], running_per_user: Counter[str]) -> list[Pending]:
    """Priority first; within a priority the user with the fewest runs goes first, then submission order.
    The count grows as runs are placed, so one user's burst does not take every free slot."""
    by_priority: dict[int, dict[str, deque[Pending]]] = defaultdict(lambda: defaultdict(deque))
    for p in sorted(queue, key=lambda p: (p.submitted_at, p.run_id)):
        by_priority[p.priority][p.user].append(p)
    counts = Counter(running_per_user)
    ordered: list[Pending] = []
    for priority in sorted(by_priority, reverse=True):
        users = by_priority[priority]
        heap = [(counts[u], q[0].submitted_at, q[0].run_id, u) for u, q in users.items()]
        heapq.heapify(heap)
        while heap:
            _, _, _, user = heapq.heappop(heap)
            ordered.append(users[user].popleft())
            counts[user] += 1
            if users[user]:
                head = users[user][0]
                heapq.heappush(heap, (counts[user], head.submitted_at, head.run_id, user))
    return ordered


@dataclass
class _Free:
    cpus: float
    memory: int
    busy: set[str]


def _shape(run: Pending) -> tuple[object, ...]:
    """What decides which nodes could ever take a run (runs of one shape share the answer)."""
    r = run.resources
    return (
        run.runtime,
        bool(run.image),
        tuple(sorted(run.node_labels.items())),
        r.cpus,
        r.memory_bytes,
        r.gpus,
        r.gpu_model,
    )


def schedule(queue: list[Pending], nodes: list[NodeView], running_per_user: Counter[str]) -> list[Placement]:
    """Placements for the runs that fit now, in the order they should be dispatched."""
    live = [n for n in nodes if n.schedulable]
    free = {n.name: _Free(n.cpus - n.used_cpus, n.memory_bytes - n.used_memory, set(n.busy_gpus)) for n in live}
    compatible: dict[tuple[object, ...], list[NodeView]] = {}
    placements: list[Placement] = []
    for run in _order(queue, running_per_user):
        shape = _shape(run)
        if shape not in compatible:
            compatible[shape] = [n for n in live if mismatch(run, n) is None]
        r = run.resources
        best: tuple[tuple[int, int, float, str], NodeView, list[Gpu]] | None = None
        for node in compatible[shape]:
            room = free[node.name]
            if r.cpus > room.cpus + 1e-9 or r.memory_bytes > room.memory:
                continue
            idle = [g for g in _matching_gpus(run, node.gpus) if g.uuid not in room.busy] if r.gpus else []
            if len(idle) < r.gpus:
                continue
            # A node holding the run's environment first; then GPU runs pack onto the node with the fewest
            # idle GPUs, and CPU runs avoid GPU nodes, then spread.
            lacks = int(bool(run.environment) and run.environment not in node.environments)
            if r.gpus:
                key = (lacks, sum(1 for g in node.gpus if g.uuid not in room.busy), -room.cpus, node.name)
            else:
                key = (lacks, len(node.gpus), -room.cpus, node.name)
            if best is None or key < best[0]:
                best = (key, node, idle[: r.gpus])
        if best is None:
            continue
        _, node, gpus = best
        room = free[node.name]
        room.cpus -= r.cpus
        room.memory -= r.memory_bytes
        room.busy.update(g.uuid for g in gpus)
        runtime = _runtime_for(run, node)
        assert runtime is not None
        placements.append(Placement(run.run_id, node.name, runtime, tuple(g.uuid for g in gpus)))
    return placements
