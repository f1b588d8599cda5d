"""Datasets as run inputs, lineage written by the coordinator, and the OpenLineage export."""

from __future__ import annotations

import json
import sys

import pytest

from kiln.core.errors import NotFound, PermissionDenied
from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import login

READ = (
    "import os, kiln.track as kt\n"
    "path = os.path.join(os.environ['KILN_DATASETS'], 'images')\n"
    "print(open(os.path.join(path, 'labels.csv')).read().strip())\n"
    "os.makedirs('model', exist_ok=True); open('model/w', 'w').write('1')\n"
    "kt.log_model('model', name='m')\n"
)


def dataset(cluster, name: str, text: str):
    return cluster.admin.add_dataset_version("p", name, push_folder(cluster, {"labels.csv": text}))


def test_a_run_reads_its_dataset_and_lineage_links_everything(cluster, tmp_path):
    cluster.agent("n1")
    v1 = dataset(cluster, "images", "cat,1\n")
    v2 = dataset(cluster, "images", "cat,2\n")
    assert (v1.version, v2.version) == (1, 2)
    snap = push_folder(cluster, {"train.py": READ})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, datasets=("images:1",)))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", cluster.output(run.id)
    assert done.spec.datasets == ("images:1",)
    assert cluster.output(run.id).splitlines()[0] == "cat,1"
    model = cluster.admin.register_model(run.id, "model", "churn")
    g = cluster.admin.lineage(f"run:{run.id}")
    edges = {(e.src, e.relation, e.dst) for e in g.edges}
    assert ("dataset:p/images@1", "input", f"run:{run.id}") in edges
    assert (f"snapshot:{snap}", "input", f"run:{run.id}") in edges
    assert (f"run:{run.id}", "output", f"snapshot:{done.output_snapshot}") in edges
    assert (f"run:{run.id}", "produced", f"model:p/churn@{model.version}") in edges
    up = cluster.admin.lineage(f"model:p/churn@{model.version}", "up", 3)
    assert {n.id for n in up.nodes} >= {
        f"run:{run.id}",
        "dataset:p/images@1",
        f"snapshot:{snap}",
        f"snapshot:{v1.snapshot}",
    }
    assert "dataset:p/images@2" not in {n.id for n in up.nodes}


def test_lineage_and_comments_are_for_project_members_only(cluster):
    cluster.agent("n1")
    v1 = dataset(cluster, "images", "x\n")
    cluster.admin.create_user("eve", "eve-password")
    eve = login(cluster.coordinator, "eve", "eve-password")
    with pytest.raises(PermissionDenied):
        eve.lineage("dataset:p/images@1")
    with pytest.raises(PermissionDenied):
        eve.add_comment(f"snapshot:{v1.snapshot}", "hi")
    cluster.admin.add_comment("dataset:p/images@1", "labels checked by hand")
    assert [c.text for c in cluster.admin.list_comments("dataset:p/images@1")] == ["labels checked by hand"]
    with pytest.raises(PermissionDenied):
        eve.list_comments("dataset:p/images@1")
    with pytest.raises(NotFound):
        cluster.admin.lineage("dataset:p/images@9")
    assert list(eve.export_openlineage()) == []


def test_the_openlineage_export_is_valid_against_the_schema(cluster, tmp_path):
    from openlineage.client.event_v2 import RunEvent  # noqa: F401  (the spec's classes, generated from its schema)

    cluster.agent("n1")
    v1 = dataset(cluster, "images", "x\n")
    snap = push_folder(cluster, {"train.py": READ})
    ok = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, datasets=("images",)))
    bad = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "exit 2"), snap))
    cluster.wait_run(ok.id)
    cluster.wait_run(bad.id)
    lines = list(cluster.admin.export_openlineage("p"))
    events = [json.loads(line) for line in lines]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "FAIL"]
    for event in events:
        validate_run_event(event)
    assert events[1]["inputs"][0]["name"] == f"dataset/p/images@{v1.version}"


def validate_run_event(event: dict) -> None:
    """Builds the spec's generated RunEvent from the JSON: its validators check the UUID, the times, the
    event type, and that job, run and datasets carry their required fields."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets={}),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets={}),
        producer=event["producer"],
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in event["inputs"]],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in event["outputs"]],
    )
    assert event["schemaURL"].startswith("https://openlineage.io/spec/")
    for facet in event["run"]["facets"].values():
        assert facet["_producer"] and facet["_schemaURL"]


def test_docker_runs_get_the_sdk_the_socket_and_read_only_datasets(cluster, docker_ready):
    from tests.compute.conftest import BUSYBOX

    cluster.agent("n1", runtimes=("docker",))
    dataset(cluster, "rows", "a,b\n")
    snap = push_folder(cluster, {"x": "x"})
    script = ("cat /datasets/rows/labels.csv; ls /kiln/sdk/kiln/track/__init__.py; echo $PYTHONPATH; "
              "test -S $KILN_TRACK_SOCKET && echo socket; touch /datasets/rows/new 2>/dev/null || echo read-only")
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", script), snap, BUSYBOX, "docker", datasets=("rows",)))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", cluster.output(run.id)
    assert cluster.output(run.id).splitlines() == ["a,b", "/kiln/sdk/kiln/track/__init__.py", "/kiln/sdk", "socket",
                                                   "read-only"]
    env = cluster.admin.run_record(run.id).environment
    assert env["runtime"] == "docker" and env["image"] == BUSYBOX and env["image_id"].startswith("sha256:")
