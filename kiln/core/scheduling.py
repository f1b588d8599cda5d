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


class _Free:
    """What is left of a node as a pass places runs on it; `version` counts the runs placed on it. Made
    only for the nodes a pass looks at closely (a plain class with slots: there may be many)."""

    __slots__ = ("node", "cpus", "memory", "busy", "version")

    def __init__(self, node: NodeView) -> None:
        self.node = node
        self.cpus = node.cpus - node.used_cpus
        self.memory = node.memory_bytes - node.used_memory
        self.busy = set(node.busy_gpus)
        self.version = 0


def _kind(run: Pending) -> tuple[object, ...]:
    """What decides which nodes could take a run at all and how they rank for it, its size aside."""
    r = run.resources
    labels = tuple(sorted(run.node_labels.items()))
    return (run.runtime, bool(run.image), labels, r.gpu_model, r.gpus > 0, run.environment)


# (environment lacking, GPU tier, -free CPUs, node name, version of the node it was made at): one flat tuple
Entry = tuple[int, int, float, str, int]


class _Ranking:
    """The nodes that could take runs of one kind (`_kind`), best first for them, in a heap: each run then
    costs a few heap operations rather than a look at every node.

    A pass only takes room away, so a node's key for CPU runs only worsens (less room to spread onto): an
    entry found outdated at the top is given its current key and put back. For GPU runs a node's key also
    improves (GPU runs pack onto the node with the fewest idle GPUs), so every run placed on one of its
    nodes adds a fresh entry and outdated ones are dropped. Nodes too full for the run at hand are set
    aside and put back after it; a size no node could take is remembered, as is every size at least as big
    (room only shrinks during a pass)."""

    def __init__(self, run: Pending, nodes: list[NodeView], rooms: dict[str, _Free]) -> None:
        self.environment = run.environment
        self.gpus = run.resources.gpus > 0
        self.rooms = rooms  # the pass's, shared by its rankings
        self.refused: list[tuple[float, int, int]] = []  # sizes (cpus, memory, gpus) no node can take now
        runtimes: dict[frozenset[str], bool] = {}  # nodes mostly share a few sets of runtimes
        self.nodes: dict[str, NodeView] = {}
        for node in nodes:
            fits = runtimes.get(node.runtimes)
            if fits is None:
                fits = runtimes[node.runtimes] = _runtime_for(run, node) is not None
            if fits and (not run.node_labels or all(node.labels.get(k) == v for k, v in run.node_labels.items())):
                self.nodes[node.name] = node
        env = self.environment
        if self.gpus or rooms:
            self.heap = [self._entry(node) for node in self.nodes.values()]
        else:  # the common case, spelled out: a pass makes one entry per node for each kind of run
            self.heap = [
                (int(bool(env) and env not in n.environments), len(n.gpus), n.used_cpus - n.cpus, n.name, 0)
                for n in self.nodes.values()
            ]
        heapq.heapify(self.heap)

    def _entry(self, node: NodeView) -> Entry:
        # A node holding the run's environment first; then GPU runs pack onto the node with the fewest idle
        # GPUs, and CPU runs avoid GPU nodes, then spread.
        room = self.rooms.get(node.name)
        env = self.environment
        lacks = int(bool(env) and env not in node.environments)
        cpus = node.cpus - node.used_cpus if room is None else room.cpus
        version = 0 if room is None else room.version
        if self.gpus:
            busy = node.busy_gpus if room is None else room.busy
            return lacks, sum(1 for g in node.gpus if g.uuid not in busy), -cpus, node.name, version
        return lacks, len(node.gpus), -cpus, node.name, version

    def take(self, run: Pending) -> tuple[_Free, list[Gpu]] | None:
        """The best node for `run` that has room for it now, and the GPUs it would give it."""
        r = run.resources
        size = (r.cpus, r.memory_bytes, r.gpus)
        if any(size[0] >= c and size[1] >= m and size[2] >= g for c, m, g in self.refused):
            return None
        aside: list[Entry] = []
        found: tuple[_Free, list[Gpu]] | None = None
        while self.heap:
            _, _, _, name, version = self.heap[0]
            room = self.rooms.get(name)
            if room is None:
                room = self.rooms[name] = _Free(self.nodes[name])
            if version != room.version:  # placed on since this entry was made
                if self.gpus:
                    heapq.heappop(self.heap)  # a fresh entry was added then
                else:
                    heapq.heapreplace(self.heap, self._entry(room.node))
                continue
            idle = _idle(run, room) if r.gpus else []
            if r.cpus > room.cpus + 1e-9 or r.memory_bytes > room.memory or len(idle) < r.gpus:
                aside.append(heapq.heappop(self.heap))
                continue
            found = (room, idle[: r.gpus])
            break
        for entry in aside:
            heapq.heappush(self.heap, entry)
        if found is None:  # every node was looked at: more than the most any has is refused too
            self.refused.append(size)
            rooms = [self.rooms[entry[3]] for entry in aside]
            self.refused += [
                (max((room.cpus for room in rooms), default=0.0) + 1e-6, 0, 0),
                (0.0, max((room.memory for room in rooms), default=0) + 1, 0),
                (0.0, 0, 1 + max((len(_idle(run, room)) for room in rooms), default=0)),
            ]
        return found

    def placed_on(self, room: _Free) -> None:
        if room.node.name in self.nodes:
            heapq.heappush(self.heap, self._entry(room.node))


def _idle(run: Pending, room: _Free) -> list[Gpu]:
    return [g for g in _matching_gpus(run, room.node.gpus) if g.uuid not in room.busy]


def schedule(queue: list[Pending], nodes: list[NodeView], running_per_user: Counter[str]) -> list[Placement]:
    """Placements for the runs that fit now, in the order they should be dispatched."""
    live = [n for n in nodes if n.schedulable]
    rooms: dict[str, _Free] = {}
    rankings: dict[tuple[object, ...], _Ranking] = {}
    packing: list[_Ranking] = []  # the rankings for GPU runs, where a node's place may rise
    placements: list[Placement] = []
    for run in _order(queue, running_per_user):
        kind = _kind(run)
        ranking = rankings.get(kind)
        if ranking is None:
            ranking = rankings[kind] = _Ranking(run, live, rooms)
            if ranking.gpus:
                packing.append(ranking)
        found = ranking.take(run)
        if found is None:
            continue
        room, gpus = found
        r = run.resources
        room.cpus -= r.cpus
        room.memory -= r.memory_bytes
        room.busy.update(g.uuid for g in gpus)
        room.version += 1
        for other in packing:
            other.placed_on(room)
        runtime = _runtime_for(run, room.node)
        assert runtime is not None
        placements.append(Placement(run.run_id, room.node.name, runtime, tuple(g.uuid for g in gpus)))
    return placements
