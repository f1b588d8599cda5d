"""Lineage over random histories, through the coordinator's own domain functions and its dispatcher on a
fake clock (no agents, no server): pushes of random folders (the same content again among them), dataset
versions, runs with and without outputs (outputs equal to their input or to an older snapshot among
them, as an older agent may send), runs started from others, reruns, model registrations. Whatever the
history, the recorded lineage has no cycle, every ancestor precedes its descendant, every edge is one the
history caused, and a walk up from any entity returns exactly what existed before it and fed it."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.coordinator import datasets, lineage, projects, registry, runs, snapshots
from kiln.coordinator.blobs import BlobStore
from kiln.coordinator.context import Coordinator, CoordinatorConfig
from kiln.coordinator.dispatch import Connected, Dispatcher, Received, Tick, Wake
from kiln.coordinator.liveness import Liveness
from kiln.coordinator.pki import ServerTls
from kiln.coordinator.store import SqliteStore
from kiln.core import clock
from kiln.core.blobparts import BlobPart
from kiln.core.hashing import sha256_bytes
from kiln.core.lineage import RELATIONS
from kiln.core.link import Hello, RunUpdate, Sequenced
from kiln.core.manifest import Entry
from kiln.core.models import Inventory
from kiln.core.permissions import Principal
from kiln.core.runs import RunSpec, RunState

ADMIN = Principal("admin", True, "t-1")
T0 = 1_000_000.0
NEVER = 1e9  # heartbeat timeout and grace: the fake clock moves fast, the node never goes quiet
FILES = {name: f"content of {name}\n".encode() for name in ("a.py", "b.csv", "c.txt", "d.bin")}
CI = os.environ.get("CI") == "true"

Triple = tuple[str, str, str]  # (src, relation, dst)


@contextmanager
def fake_clock() -> Iterator[None]:
    """Every reading of the one clock is a second after the last, so times are distinct and in order."""
    real, ticks = clock.now, iter(range(1, 1 << 30))
    clock.now = lambda: T0 + next(ticks)  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.now = real  # type: ignore[assignment]


@dataclass
class History:
    """A coordinator over a real store, and the test's own account of what happened in it."""

    tmp: Path
    ctx: Coordinator = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    seq: int = 0
    born: dict[str, float] = field(default_factory=dict)  # entity -> when it first came to be
    caused: set[Triple] = field(default_factory=set)  # the edges the history should have recorded
    refused: set[Triple] = field(default_factory=set)  # what a coordinator before the rule recorded too
    snapshots: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)  # NAME:VERSION
    finished: list[str] = field(default_factory=list)  # runs that ended with an output
    runs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        config = CoordinatorConfig(self.tmp, heartbeat_timeout_s=NEVER, lost_grace_s=NEVER)
        store = SqliteStore(self.tmp / "kiln.db")
        liveness = Liveness(NEVER, NEVER, started_at=clock.now())
        self.ctx = Coordinator(config, store, BlobStore(self.tmp / "blobs"), cast(ServerTls, None), liveness)
        self.dispatcher = Dispatcher(self.ctx)
        store.add_user("admin", "x", True)
        projects.create_project(store, ADMIN, "p", "")
        upload = snapshots.start_upload(self.ctx, ADMIN, "p")
        upload.consume(BlobPart(sha256_bytes(data), 0, data, True) for data in FILES.values())
        upload.close()
        inventory = Inventory(cpus=64, memory_bytes=1 << 40)
        store.add_node("n", "fp", {}, clock.now())
        store.update_node("n", clock.now(), runtimes={"process": "here"}, inventory=inventory)
        hello = Hello(name="n", version="t", runtimes={"process": "here"}, inventory=inventory)
        self.handle(Connected("n", 1, hello))

    def handle(self, event: object) -> list[object]:
        out = list(self.dispatcher.handle(event, clock.now()))  # type: ignore[arg-type]
        if Wake() in out:
            out += self.dispatcher.handle(Tick(), clock.now())
        return out

    def report(self, update: RunUpdate) -> None:
        self.seq += 1
        self.handle(Received("n", 1, Sequenced(self.seq, update)))

    # -- the steps of a history -----------------------------------------------------------------------

    def push(self, names: frozenset[str]) -> str:
        entries = [Entry(n, stat.S_IFREG | 0o644, len(FILES[n]), sha256_bytes(FILES[n])) for n in sorted(names)]
        entries.append(Entry("work", stat.S_IFDIR | 0o755))  # no folder is empty
        snap = snapshots.create_snapshot(self.ctx, ADMIN, "p", snapshots.NewSnapshot(entries))
        self.born.setdefault(f"snapshot:{snap.id}", snap.created_at)
        if snap.id not in self.snapshots:
            self.snapshots.append(snap.id)
        return snap.id

    def add_dataset(self, name: str, pick: int) -> None:
        if not self.snapshots:
            return
        snap = self.snapshots[pick % len(self.snapshots)]
        v = datasets.add_version(self.ctx, ADMIN, "p", name, snap, "")
        me = f"dataset:p/{name}@{v.version}"
        self.born[me] = v.created_at
        self.caused.add((f"snapshot:{snap}", "content", me))
        self.datasets.append(f"{name}:{v.version}")

    def run(self, step: RunStep) -> None:
        if step.rerun is not None and self.runs:
            run = runs.rerun(self.ctx, ADMIN, self.runs[step.rerun % len(self.runs)])
        elif self.snapshots:
            parent = self.runs[step.parent % len(self.runs)] if step.parent is not None and self.runs else ""
            used = (
                tuple(dict.fromkeys(self.datasets[i % len(self.datasets)] for i in step.datasets))
                if self.datasets
                else ()
            )
            snap = self.snapshots[step.snapshot % len(self.snapshots)]
            run = runs.submit(
                self.ctx, ADMIN, RunSpec("p", ("python", "train.py"), snap, datasets=used, parent_run=parent)
            )
        else:
            return
        me = f"run:{run.id}"
        self.born[me] = run.created_at
        self.runs.append(run.id)
        s = run.spec
        self.caused |= {(f"dataset:p/{d.replace(':', '@')}", "input", me) for d in s.datasets}
        self.caused |= {(f"snapshot:{s.snapshot}", "input", me)} if s.snapshot else set()
        self.caused |= {(f"run:{s.parent_run}", "parent", me)} if s.parent_run else set()
        self.caused |= {(f"run:{s.rerun_of}", "rerun", me)} if s.rerun_of else set()
        self.handle(Tick())  # what a submission asks of the dispatcher: place it
        placed = self.ctx.store.run(run.id, with_events=False)
        assert placed is not None and placed.state is RunState.ASSIGNED, placed  # the node has room for all
        self.report(RunUpdate(run.id, placed.attempt, RunState.RUNNING, clock.now()))
        output = self._output(run.spec.snapshot, step)
        final = RunState.SUCCEEDED if step.succeeds else RunState.FAILED
        code = 0 if step.succeeds else 1
        self.report(RunUpdate(run.id, placed.attempt, final, clock.now(), exit_code=code, output_snapshot=output))
        if output:
            self.finished.append(run.id)
            # an output is an edge only when it is new: neither the run's input nor anything older than it
            edge = (me, "output", f"snapshot:{output}")
            honest = output != run.spec.snapshot and self.born[f"snapshot:{output}"] > run.created_at
            (self.caused if honest else self.refused).add(edge)

    def _output(self, snapshot: str, step: RunStep) -> str:
        if step.output == "none":
            return ""
        if step.output == "input":
            return snapshot  # an older agent reports an unchanged folder as its input
        if step.output == "older":
            return self.snapshots[step.older % len(self.snapshots)]
        return self.push(step.folder)  # new files: or, by chance, a folder pushed before

    def register(self, pick: int, name: str) -> None:
        if not self.finished:
            return
        run_id = self.finished[pick % len(self.finished)]
        model = registry.register(self.ctx, ADMIN, run_id, "work", name, {})
        me = f"model:p/{name}@{model.version}"
        self.born[me] = model.created_at
        self.caused.add((f"run:{run_id}", "produced", me))


@dataclass(frozen=True)
class RunStep:
    snapshot: int
    datasets: tuple[int, ...]
    parent: int | None
    rerun: int | None
    output: str  # none | input | older | new
    older: int
    folder: frozenset[str]
    succeeds: bool


folders = st.frozensets(st.sampled_from(sorted(FILES)), max_size=len(FILES))
run_steps = st.builds(
    RunStep,
    snapshot=st.integers(0, 20),
    datasets=st.tuples() | st.tuples(st.integers(0, 20)) | st.tuples(st.integers(0, 20), st.integers(0, 20)),
    parent=st.none() | st.integers(0, 20),
    rerun=st.none() | st.none() | st.integers(0, 20),
    output=st.sampled_from(["none", "input", "older", "new", "new"]),
    older=st.integers(0, 20),
    folder=folders,
    succeeds=st.booleans(),
)
step = st.one_of(
    st.tuples(st.just("push"), folders),
    st.tuples(st.just("dataset"), st.sampled_from(["images", "labels"]), st.integers(0, 20)),
    st.tuples(st.just("run"), run_steps),
    st.tuples(st.just("run"), run_steps),
    st.tuples(st.just("model"), st.integers(0, 20), st.sampled_from(["churn", "risk"])),
)
# a history starts with a push (nothing else can happen before one), then anything
steps = st.tuples(st.tuples(st.just("push"), folders), st.lists(step, min_size=6, max_size=30)).map(
    lambda first_and_rest: [first_and_rest[0], *first_and_rest[1]]
)


def play(history: History, script: list[tuple[object, ...]]) -> None:
    for kind, *args in script:
        if kind == "push":
            history.push(cast(frozenset[str], args[0]))
        elif kind == "dataset":
            history.add_dataset(cast(str, args[0]), cast(int, args[1]))
        elif kind == "run":
            history.run(cast(RunStep, args[0]))
        else:
            history.register(cast(int, args[0]), cast(str, args[1]))


def recorded(history: History) -> set[Triple]:
    rows = history.ctx.store.db.conn.execute("SELECT src, relation, dst FROM lineage").fetchall()
    return {(src, relation, dst) for src, relation, dst in rows}


def ancestors(edges: set[Triple], root: str) -> set[str]:
    found, frontier = set(), {root}
    while frontier:
        frontier = {src for src, _, dst in edges if dst in frontier} - found
        found |= frontier
    return found


def descendants(edges: set[Triple], root: str) -> set[str]:
    return {e for e in ancestors({(d, r, s) for s, r, d in edges}, root)}


def check(history: History, edges: set[Triple]) -> None:
    """The recorded `edges` hold every edge the history caused; and whatever else they hold, walks from
    every entity return exactly its honest ancestors and descendants, born before and after it."""
    assert history.caused <= edges
    caused, born = history.caused, history.born
    for src, relation, dst in edges:  # each relation joins the kinds it names
        sources, targets = RELATIONS[relation]
        assert src.partition(":")[0] in sources and dst.partition(":")[0] in targets
    # ancestors precede descendants: along every caused edge, strictly (the fake clock never repeats)
    assert all(born[src] < born[dst] for src, _, dst in caused)
    # and so no cycle: nothing is its own ancestor
    for entity in born:
        assert entity not in ancestors(caused, entity)
    for entity in sorted(born):
        up = lineage.graph(history.ctx, ADMIN, entity, "up", 50)
        assert {n.id for n in up.nodes} == ancestors(caused, entity) | {entity}
        assert all(born[n.id] <= born[entity] for n in up.nodes)
        down = lineage.graph(history.ctx, ADMIN, entity, "down", 50)
        assert {n.id for n in down.nodes} == descendants(caused, entity) | {entity}
        assert {(e.src, e.relation, e.dst) for e in up.edges + down.edges} <= caused


@settings(
    max_examples=40,
    deadline=None,
    derandomize=CI,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(script=steps)
def test_lineage_of_any_history_is_acyclic_ordered_in_time_and_caused(script):
    with fake_clock(), tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp))
        try:
            play(history, script)
            assert recorded(history) == history.caused  # every edge is one the history caused
            check(history, recorded(history))
            # a database from before the rule holds the refused edges too: walks still do not follow them
            history.ctx.store.db.conn.executemany(
                "INSERT OR IGNORE INTO lineage (src, relation, dst, time) VALUES (?, ?, ?, 0)", sorted(history.refused)
            )
            check(history, recorded(history))
        finally:
            history.ctx.store.close()


def test_a_run_that_reports_its_input_or_an_older_snapshot_as_output_gets_no_output_edge():
    """The examples a random history may miss, spelt out: an older agent's unchanged folder, and an
    output that is an earlier push's content, record the output on the run but no lineage edge."""
    with fake_clock(), tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp))
        try:
            first = history.push(frozenset({"a.py"}))
            second = history.push(frozenset({"b.csv"}))
            same = RunStep(1, (), None, None, "input", 0, frozenset(), True)
            older = RunStep(1, (), None, None, "older", 0, frozenset(), False)  # leaves `first` behind
            history.run(same)
            history.run(older)
            assert recorded(history) == history.caused and len(history.refused) == 2
            check(history, recorded(history))
            ran = [history.ctx.store.run(r, with_events=False) for r in history.runs]
            assert [r.output_snapshot for r in ran if r] == [second, first]
            assert not any(relation == "output" for _, relation, _ in recorded(history))
        finally:
            history.ctx.store.close()
