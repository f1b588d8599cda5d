"""The store's queries behind run-id prefixes, `kiln runs --columns` and the dispatch tick, on every store backend."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from kiln.coordinator.store import SqliteStore
from kiln.coordinator.store.placement import NodeUse
from kiln.core.models import RunValues
from kiln.core.query import Field
from kiln.core.runs import Resources, Run, RunSpec, RunState


def _run(store: SqliteStore, run_id: str, project: str = "p") -> None:
    if store.user("alice") is None:
        store.add_user("alice", "h", False)
    if store.project(project) is None:
        store.add_project(project, "", "alice")
    store.add_run(Run(run_id, RunSpec(project, ("true",)), "alice", RunState.QUEUED, 1.0))


class RunQueries:
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        raise NotImplementedError

    def test_runs_matching_a_prefix_in_the_projects_given(self, store):
        for run_id, project in (("r-abc000000001", "p"), ("r-abc000000002", "q"), ("r-abd000000001", "p")):
            _run(store, run_id, project)
        assert [r.id for r in store.runs_matching("r-abc")] == ["r-abc000000001", "r-abc000000002"]
        assert [r.id for r in store.runs_matching("r-abc", ["p"])] == ["r-abc000000001"]
        assert store.runs_matching("r-abc", []) == [] and store.runs_matching("r-abe") == []
        assert [r.id for r in store.runs_matching("r-ab", limit=2)] == ["r-abc000000001", "r-abc000000002"]

    def test_run_values_are_only_the_columns_asked_for(self, store):
        ids = [f"r-{i:012x}" for i in range(1200)]  # more than one batch of runs
        for run_id in ids:
            _run(store, run_id)
        store.add_params(ids[0], {"lr": "0.1", "epochs": "3"})
        store.add_params(ids[1100], {"lr": "0.2"})
        store.add_metrics(ids[0], [("acc", 0, 0.5, 1.0), ("acc", 1, 0.75, 2.0), ("loss", 0, math.nan, 1.0)])
        store.add_tags(ids[0], {"team": "a"})
        columns = [Field("params", "lr"), Field("metrics", "acc"), Field("metrics", "loss"), Field("tags", "team")]
        found = store.run_values(ids, columns)
        assert set(found) == {ids[0], ids[1100]}  # runs with none of them are left out
        first = found[ids[0]]
        assert (first.params, first.metrics["acc"], first.tags) == ({"lr": "0.1"}, 0.75, {"team": "a"})
        assert math.isnan(first.metrics["loss"])
        assert found[ids[1100]] == RunValues(params={"lr": "0.2"})
        assert store.run_values(ids, []) == {} and store.run_values([], columns) == {}

    def test_active_use_sums_what_the_active_runs_hold_per_node_and_counts_them_per_user(self, store):
        specs = {"r-a": (1.5, 1 << 30), "r-b": (2.0, 2 << 30), "r-c": (4.0, 0), "r-d": (8.0, 0)}
        for run_id, (cpus, memory) in specs.items():
            if store.user("bob") is None:
                store.add_user("bob", "h", False)
                store.add_project("p", "", "bob")
            spec = RunSpec("p", ("true",), resources=Resources(cpus, memory))
            store.add_run(Run(run_id, spec, "bob" if run_id == "r-c" else "alice", RunState.QUEUED, 1.0))
        store.update_run("r-a", state=RunState.RUNNING, node="n1", gpu_uuids=("GPU-1",))
        store.update_run("r-b", state=RunState.ASSIGNED, node="n1", gpu_uuids=("GPU-2",), cancel_requested=True)
        store.update_run("r-c", state=RunState.PREPARING, node="n2", attempt=3)
        store.update_run("r-d", state=RunState.SUCCEEDED, node="n2", cancel_requested=True)  # ended: holds nothing
        use = store.active_use()
        assert use.nodes == {
            "n1": NodeUse(3.5, 3 << 30, frozenset({"GPU-1", "GPU-2"})),
            "n2": NodeUse(4.0, 0, frozenset()),
        }
        assert use.users == Counter({"alice": 2, "bob": 1})
        assert store.cancels_due() == [("r-b", 0, "n1")]


class TestSqliteFile(RunQueries):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        return SqliteStore(tmp_path / "kiln.db")


class TestSqliteMemory(RunQueries):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        return SqliteStore(":memory:")
