"""Datasets as run inputs, and lineage written by the coordinator from what it saw: honest edges only, a
walk up that reaches only what existed before and fed the root."""

from __future__ import annotations

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


# train.py of the code snapshot below, and a second folder whose run deletes its extra file and fails: what
# it leaves behind is exactly the first snapshot, which existed long before that run.
NOTHING = "pass\n"
DELETE = "import os\nos.remove('extra.txt')\nraise SystemExit(1)\n"


def ids(graph) -> set[str]:
    return {n.id for n in graph.nodes}


def relations(graph) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation, e.dst) for e in graph.edges}


def content(graph) -> tuple[set[str], set[tuple[str, str, str]]]:
    """The graph's ids and relations but for the environments runs ran in (tested on their own)."""
    return (
        {i for i in ids(graph) if not i.startswith("environment:")},
        {r for r in relations(graph) if r[1] != "environment"},
    )


def test_an_unchanged_output_is_no_output_and_a_later_run_is_never_an_ancestor(cluster):
    cluster.agent("n1")
    code = push_folder(cluster, {"train.py": NOTHING})
    first = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), code))
    assert str(cluster.wait_run(first.id).state) == "succeeded"
    later_code = push_folder(cluster, {"train.py": NOTHING, "extra.txt": "x"})
    later = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), later_code))
    again = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), code))  # changes nothing
    cluster.wait_run(again.id)
    deleting = cluster.admin.submit_run(RunSpec("p", (sys.executable, "-c", DELETE), later_code, parent_run=later.id))
    done = cluster.wait_run(deleting.id)
    cluster.wait_run(later.id)
    assert str(done.state) == "failed" and done.output_snapshot in ("", code)  # its folder is the first snapshot
    me, snap = f"run:{first.id}", f"snapshot:{code}"

    up = cluster.admin.lineage(me, "up", 50)
    assert content(up) == ({me, snap}, {(snap, "input", me)})
    assert cluster.admin.lineage(snap, "up", 50).edges == ()  # pushed, not produced by any run
    both = cluster.admin.lineage(me, "", 50)
    assert content(both)[1] == {(snap, "input", me)}  # its output was its input: no output edge
    down = cluster.admin.lineage(snap, "down", 50)
    assert content(down)[1] == {(snap, "input", me), (snap, "input", f"run:{again.id}")}
    for g in (up, both, down, cluster.admin.lineage(f"run:{deleting.id}", "", 50)):
        assert all(e.src != e.dst for e in g.edges)
        assert not any(e.relation == "output" and e.dst == snap for e in g.edges)


def test_a_model_version_leads_to_its_run_and_everything_that_fed_it(cluster):
    cluster.agent("n1")
    v1 = dataset(cluster, "images", "cat,1\n")
    dataset(cluster, "images", "cat,2\n")  # a later version: not an ancestor
    code = push_folder(cluster, {"train.py": READ})
    parent = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), code, datasets=("images:1",)))
    assert str(cluster.wait_run(parent.id).state) == "succeeded", cluster.output(parent.id)
    child = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "train.py"), code, datasets=("images:1",), parent_run=parent.id)
    )
    assert str(cluster.wait_run(child.id).state) == "succeeded", cluster.output(child.id)
    rerun = cluster.admin.rerun(child.id)
    done = cluster.wait_run(rerun.id)
    assert str(done.state) == "succeeded", cluster.output(rerun.id)
    model = cluster.admin.register_model(rerun.id, "model", "churn")
    me = f"model:p/churn@{model.version}"

    up = cluster.admin.lineage(me, "up", 50)
    r, c, pa = (f"run:{x.id}" for x in (rerun, child, parent))
    assert {
        (r, "produced", me),
        (c, "rerun", r),
        (pa, "parent", c),
        (f"snapshot:{code}", "input", r),
        ("dataset:p/images@1", "input", r),
        (f"snapshot:{v1.snapshot}", "content", "dataset:p/images@1"),
    } <= (relations(up))
    assert "dataset:p/images@2" not in ids(up)
    assert not any(e.relation == "output" for e in up.edges)  # nothing fed a run through its own output
    down = cluster.admin.lineage(pa, "down", 50)
    assert {c, r, me} <= ids(down)  # a run started from another is its descendant

    # ... and the environment they ran in: one for the three, since they ran in the same interpreter
    [env] = {e.src for e in up.edges if e.relation == "environment"}
    assert {(env, "environment", x) for x in (r, c, pa)} <= relations(up)
    node = up.node(env)
    assert node is not None and node.kind == "environment" and node.project == "p"
    assert "process" in node.label and "CPython" in node.label and "packages" in node.label
    assert {pa, c, r, me} <= ids(cluster.admin.lineage(env, "down", 50))
    cluster.admin.create_user("eve", "eve-password")
    with login(cluster.coordinator, "eve", "eve-password") as eve, pytest.raises(PermissionDenied):
        eve.lineage(env)  # seen only through a run one may read


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


def test_docker_runs_get_the_sdk_the_socket_and_read_only_datasets(cluster, docker_ready):
    from tests.compute.conftest import BUSYBOX

    cluster.agent("n1", runtimes=("docker",))
    dataset(cluster, "rows", "a,b\n")
    snap = push_folder(cluster, {"x": "x"})
    script = (
        "cat /datasets/rows/labels.csv; ls /kiln/sdk/kiln/track/__init__.py; echo $PYTHONPATH; "
        "test -S $KILN_TRACK_SOCKET && echo socket; touch /datasets/rows/new 2>/dev/null || echo read-only"
    )
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", script), snap, BUSYBOX, "docker", datasets=("rows",)))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", cluster.output(run.id)
    assert cluster.output(run.id).splitlines() == [
        "a,b",
        "/kiln/sdk/kiln/track/__init__.py",
        "/kiln/sdk",
        "socket",
        "read-only",
    ]
    env = cluster.admin.run_record(run.id).environment
    assert env["runtime"] == "docker" and env["image"] == BUSYBOX and env["image_id"].startswith("sha256:")
