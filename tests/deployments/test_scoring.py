"""Batch scoring is a tracked run: a model version over a dataset version, its predictions a new dataset
version, both tied to it by lineage."""

from __future__ import annotations

import io

import numpy as np
import pytest

from kiln.core.errors import InvalidArgument, NotFound
from tests.compute.conftest import push_folder
from tests.deployments.conftest import Served


def _csv(rows: np.ndarray) -> str:
    out = io.StringIO()
    out.write(",".join(f"x{i}" for i in range(rows.shape[1])) + "\n")
    np.savetxt(out, rows, delimiter=",", fmt="%.5f")
    return out.getvalue()


def test_scoring_a_dataset_makes_a_dataset_version_traced_to_the_model_and_the_input(served: Served) -> None:
    admin = served.cluster.admin
    v1 = served.train(1)
    rows = np.random.default_rng(3).normal(size=(2000, 10))
    snap = push_folder(served.cluster, {"part-0.csv": _csv(rows[:1000]), "part-1.csv": _csv(rows[1000:])})
    admin.add_dataset_version("p", "customers", snap)
    run = admin.score_batch("p", "clf", v1, "customers", "churn-scores")
    done = served.cluster.wait_run(run.id)
    log = b"".join(c.data for c in admin.read_logs(run.id)).decode()
    assert str(done.state) == "succeeded", log + done.reason
    assert done.spec.datasets == ("customers:1",)
    made = [d for d in admin.list_datasets("p") if d.name == "churn-scores"]
    assert [d.version for d in made] == [1] and made[0].files >= 3  # two prediction files and scoring.json
    graph = admin.lineage(f"dataset:p/churn-scores@{made[0].version}", "up", 3)
    ids = {n.id for n in graph.nodes}
    assert {f"run:{run.id}", f"model:p/clf@{v1}", "dataset:p/customers@1"} <= ids
    relations = {(e.src, e.dst, e.relation) for e in graph.edges}
    assert (f"model:p/clf@{v1}", f"run:{run.id}", "scored_with") in relations
    assert (f"run:{run.id}", "dataset:p/churn-scores@1", "scored") in relations
    assert "rows" in served.cluster.output(run.id)


def test_a_bad_scoring_request_is_refused_and_queues_nothing(served: Served) -> None:
    admin = served.cluster.admin
    served.train(1)
    before = len(admin.list_runs("p"))
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        admin.score_batch("p", "clf", 1, "nope")
    with pytest.raises(NotFound, match="has no version 5"):
        admin.score_batch("p", "clf", 5, "nope")
    with pytest.raises(InvalidArgument, match="invalid dataset name"):
        admin.score_batch("p", "clf", 1, "x", output="Bad Name")
    assert len(admin.list_runs("p")) == before
