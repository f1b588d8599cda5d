"""One dataset contract in every runtime: KILN_DATASETS is a folder with one read-only folder per dataset
the run reads (Docker: /datasets), KILN_DATASET_<NAME> names one, and no job can change what a dataset
version holds, neither for itself nor for the runs after it on that node. Docker binds datasets read-only;
the process runtime binds them read-only in a mount namespace of the job's own, and where that is turned
off (KILN_AGENT_NO_NAMESPACES=1) the agent finds the change before the next use and makes the dataset
again. Process jobs start from a clean environment. Real coordinator, real agents, real Docker engine."""

from __future__ import annotations

import json
import logging
import os
import sys

import pytest

from kiln.agent.datasets import dataset_folder, fingerprint
from kiln.agent.workspace import BlobCache
from kiln.core.runs import RunSpec
from tests.compute.conftest import BUSYBOX, push_folder

DATASET = {"labels.csv": "cat,1\n", "sub/a.txt": "a\n"}
RUNTIMES = ["process", "docker"]


def run_spec(runtime: str, script: str, snap: str, **fields) -> RunSpec:
    image = BUSYBOX if runtime == "docker" else ""
    return RunSpec("p", ("sh", "-c", script), snap, image, runtime, **fields)


@pytest.fixture
def node(request, cluster):
    """One agent of the runtime under test (a Docker engine and the test image for "docker")."""
    runtime = request.param
    if runtime == "docker":
        request.getfixturevalue("docker_ready")
    cluster.agent("n1", runtimes=(runtime,))
    return runtime


def tree_on_node(cluster, snap: str):
    return cluster.tmp / "agent-n1" / "datasets" / snap


# Each way of changing a dataset folder, tried in turn; the job prints one word for each.
TRIES = [
    'echo changed > "$d/labels.csv"',
    'echo new > "$d/new.txt"',
    'rm -f "$d/labels.csv"',
    'rm -rf "$d/sub"',
    'chmod -R u+w "$d"',
    'mkdir "$d/made"',
]
TRY_ALL = "; ".join(f"if ({t}) 2>/dev/null; then echo changed; else echo refused; fi" for t in TRIES)
READ = 'ls "$KILN_DATASETS"; d="$KILN_DATASET_IMAGES"; cat "$d/labels.csv" "$d/sub/a.txt"; ls "$d"'


@pytest.mark.parametrize("node", RUNTIMES, indirect=True)
def test_a_job_cannot_change_its_dataset_and_the_next_run_reads_it_whole(cluster, node):
    data = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, DATASET))
    snap = push_folder(cluster, {"x": "x"})
    script = f'd="$KILN_DATASET_IMAGES"; {TRY_ALL}; {READ}'
    first = cluster.admin.submit_run(run_spec(node, script, snap, datasets=("images:1",)))
    assert str(cluster.wait_run(first.id).state) == "succeeded", cluster.output(first.id)
    out = cluster.output(first.id).splitlines()
    assert out == ["refused"] * len(TRIES) + ["images", "cat,1", "a", "labels.csv", "sub"]

    tree = tree_on_node(cluster, data.snapshot)
    made = tree.stat().st_ino
    second = cluster.admin.submit_run(run_spec(node, READ, snap, datasets=("images:1",)))
    assert str(cluster.wait_run(second.id).state) == "succeeded", cluster.output(second.id)
    assert cluster.output(second.id).splitlines() == ["images", "cat,1", "a", "labels.csv", "sub"]
    assert (tree / "labels.csv").read_text() == "cat,1\n"
    assert tree.stat().st_ino == made  # found unchanged, so reused as it was, not made again


def test_a_process_job_cannot_reach_other_dataset_versions_or_the_nodes_cache(cluster):
    """A process can name any path of the node; inside its namespace the node's datasets and blob cache
    are read-only, not only the versions it asked for."""
    cluster.agent("n1", runtimes=("process",))
    other = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, DATASET))
    cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "dog,2\n"}))
    snap = push_folder(cluster, {"x": "x"})
    warm = cluster.admin.submit_run(run_spec("process", "true", snap, datasets=("images:1",)))
    assert str(cluster.wait_run(warm.id).state) == "succeeded"  # version 1 and its blobs are on the node now
    node_data = cluster.tmp / "agent-n1"
    blob = next(p for p in (node_data / "cache").rglob("*") if p.is_file() and len(p.name) == 64)
    tries = [
        f'echo x > "{tree_on_node(cluster, other.snapshot)}/labels.csv"',
        f'echo x > "{blob}"',
        f'rm "{blob}"',
        f'mkdir "{node_data / "datasets" / "made"}"',
    ]
    script = "; ".join(f"if ({t}) 2>/dev/null; then echo changed; else echo refused; fi" for t in tries)
    run = cluster.admin.submit_run(run_spec("process", script, snap, datasets=("images:2",)))
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    assert cluster.output(run.id).splitlines() == ["refused"] * len(tries)
    assert (tree_on_node(cluster, other.snapshot) / "labels.csv").read_text() == "cat,1\n" and blob.exists()


@pytest.mark.parametrize("node", RUNTIMES, indirect=True)
def test_a_run_without_datasets_still_has_an_empty_read_only_datasets_folder(cluster, node):
    snap = push_folder(cluster, {"x": "x"})
    script = (
        'ls -A "$KILN_DATASETS" && echo listed; touch "$KILN_DATASETS/x" 2>/dev/null && echo changed || echo refused'
    )
    run = cluster.admin.submit_run(run_spec(node, script, snap))
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    assert cluster.output(run.id).splitlines() == ["listed", "refused"]


def test_without_namespaces_a_root_jobs_change_is_found_and_the_next_run_reads_a_fresh_copy(
    cluster, monkeypatch, caplog
):
    monkeypatch.setenv("KILN_AGENT_NO_NAMESPACES", "1")  # the admin's switch, read when the agent starts
    cluster.agent("n1")
    data = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, DATASET))
    snap = push_folder(cluster, {"x": "x"})
    # Without a namespace nothing stops a job that owns the files or is root: it can chmod them writable.
    script = f'd="$KILN_DATASET_IMAGES"; chmod -R u+w "$d"; {TRY_ALL}'
    first = cluster.admin.submit_run(run_spec("process", script, snap, datasets=("images:1",)))
    assert str(cluster.wait_run(first.id).state) == "succeeded", cluster.output(first.id)
    assert cluster.output(first.id).splitlines() == ["changed"] * len(TRIES)  # nothing stopped it
    tree = tree_on_node(cluster, data.snapshot)
    assert not (tree / "labels.csv").exists() and (tree / "new.txt").exists()

    with caplog.at_level(logging.WARNING, logger="kiln.agent.datasets"):
        second = cluster.admin.submit_run(run_spec("process", READ, snap, datasets=("images:1",)))
        assert str(cluster.wait_run(second.id).state) == "succeeded", cluster.output(second.id)
    assert cluster.output(second.id).splitlines() == ["images", "cat,1", "a", "labels.csv", "sub"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("dataset images:1" in m and "changed since it was made" in m for m in warned), warned
    assert (tree / "labels.csv").read_text() == "cat,1\n"
    assert not list(tree.parent.glob(".*.damaged-*"))  # no other job read the damaged copy: it is gone


# --- the check before reuse, on its own (a real coordinator feeds it) ----------------------------------


def edit_keeping_the_mtime(path):
    st = path.stat()
    path.chmod(0o644)
    path.write_text("dog,9\n")
    path.chmod(st.st_mode)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # only the ctime tells


DAMAGE = {
    "edit keeping size and mtime": edit_keeping_the_mtime,
    "chmod": lambda p: p.chmod(0o644),
    "new file": lambda p: (p.parent.chmod(0o755), (p.parent / "new").write_text("x")),
    "removal": lambda p: (p.parent.chmod(0o755), p.unlink()),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_changed_tree_is_made_again_and_a_damaged_copy_stays_while_a_job_reads_it(cluster, damage):
    snap = push_folder(cluster, {"labels.csv": "cat,1\n"})
    root, cache = cluster.tmp / "node" / "datasets", BlobCache(cluster.tmp / "node" / "cache")
    tree = dataset_folder(cluster.admin, cache, root, "p", snap, label="images:1")
    made = fingerprint(tree)
    assert dataset_folder(cluster.admin, cache, root, "p", snap) == tree and fingerprint(tree) == made  # reused

    damage(tree / "labels.csv")
    reading = {snap}  # another live job reads this snapshot
    again = dataset_folder(cluster.admin, cache, root, "p", snap, in_use=lambda s: s in reading)
    assert again == tree and fingerprint(tree) != made
    assert sorted(p.name for p in tree.iterdir()) == ["labels.csv"] and (tree / "labels.csv").read_text() == "cat,1\n"
    [aside] = root.glob(".*.damaged-*")  # kept for the job still reading it
    reading.clear()
    dataset_folder(cluster.admin, cache, root, "p", snap, in_use=lambda s: s in reading)
    assert not aside.exists()


def test_a_copy_made_by_an_older_agent_is_made_again_readable_by_every_job_user(cluster):
    snap = push_folder(cluster, {"labels.csv": "cat,1\n", "sub/a.txt": "a\n"})
    root, cache = cluster.tmp / "node" / "datasets", BlobCache(cluster.tmp / "node" / "cache")
    tree = dataset_folder(cluster.admin, cache, root, "p", snap)
    # As 0.1 left it: the pushed files' modes less write, and a record without the mark of shared trees.
    for path in [tree / "labels.csv", tree / "sub" / "a.txt"]:
        path.chmod(0o400)
    for folder in [tree / "sub", tree]:
        folder.chmod(0o500)
    (root / f".{snap}.stat").write_text(json.dumps({"fingerprint": fingerprint(tree)}))

    again = dataset_folder(cluster.admin, cache, root, "p", snap)
    assert again == tree and (tree / "labels.csv").read_text() == "cat,1\n"
    for path in [tree, tree / "sub", tree / "labels.csv", tree / "sub" / "a.txt"]:
        assert path.stat().st_mode & 0o004, path  # others (a job user) may read it
    assert not path.stat().st_mode & 0o222
    made = fingerprint(tree)
    assert dataset_folder(cluster.admin, cache, root, "p", snap) == tree and fingerprint(tree) == made  # now reused


def test_a_fresh_copy_is_not_made_from_a_damaged_cache(cluster):
    snap = push_folder(cluster, {"labels.csv": "cat,1\n"})
    root, cache = cluster.tmp / "node" / "datasets", BlobCache(cluster.tmp / "node" / "cache")
    tree = dataset_folder(cluster.admin, cache, root, "p", snap)
    [blob] = [p for p in cache.root.rglob("*") if p.is_file() and p.parent.name != "tmp"]
    blob.write_text("dog,9\n")  # a job without a namespace reached the agent's cache too
    edit_keeping_the_mtime(tree / "labels.csv")
    dataset_folder(cluster.admin, cache, root, "p", snap)
    assert (tree / "labels.csv").read_text() == "cat,1\n"


# --- a clean environment -------------------------------------------------------------------------------


def test_a_process_job_gets_a_clean_environment(cluster, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
    monkeypatch.setenv("KILN_HOME", str(cluster.tmp / "agent-home"))
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(run_spec("process", "env", snap, env={"LR": "0.01", "TZ": "UTC"}))
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    env = dict(line.split("=", 1) for line in cluster.output(run.id).splitlines() if "=" in line)
    assert "AWS_SECRET_ACCESS_KEY" not in env and "KILN_HOME" not in env
    assert env["LR"] == "0.01" and env["TZ"] == "UTC"  # what the run sets
    assert env["PATH"] == os.environ["PATH"]
    jobs = cluster.tmp / "agent-n1" / "runtimes" / "process" / "jobs"
    assert env["HOME"] == str(jobs / f"{run.id}.1" / "home") and env["TMPDIR"] == str(jobs / f"{run.id}.1" / "tmp")
    assert env["KILN_RUN_ID"] == run.id and env["KILN_PROJECT"] == "p"
    allowed = {"PATH", "LANG", "TZ", "HOME", "TMPDIR", "USER", "LOGNAME", "PYTHONPATH", "CUDA_VISIBLE_DEVICES"}
    shell = {"PWD", "SHLVL", "_", "OLDPWD"}  # what sh adds itself
    assert set(env) - allowed - shell - {"LR"} == {k for k in env if k.startswith(("KILN_", "LC_"))}


def test_both_runtimes_give_a_job_the_same_kiln_variables(cluster, docker_ready):
    cluster.agent("n1", runtimes=("process",))
    cluster.agent("n2", runtimes=("docker",))
    cluster.admin.add_dataset_version("p", "images", push_folder(cluster, DATASET))
    snap = push_folder(cluster, {"x": "x"})
    names = {}
    for runtime in RUNTIMES:
        script = "env | grep ^KILN_ | cut -d= -f1 | sort"
        run = cluster.admin.submit_run(run_spec(runtime, script, snap, datasets=("images",)))
        assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
        names[runtime] = cluster.output(run.id).split()
    assert names["process"] == names["docker"]
    assert {"KILN_DATASETS", "KILN_DATASET_IMAGES", "KILN_RUN_ID", "KILN_WORKDIR", "KILN_TRACK_SOCKET"} <= set(
        names["docker"]
    )


def test_python_reads_a_dataset_the_same_way_in_the_process_runtime(cluster):
    cluster.agent("n1")
    cluster.admin.add_dataset_version("p", "images", push_folder(cluster, DATASET))
    code = (
        "import os\n"
        "root = os.environ['KILN_DATASETS']\n"
        "print(sorted(os.listdir(root)), os.path.isdir(os.path.join(root, 'images')))\n"
        "print(os.path.samefile(os.path.join(root, 'images'), os.environ['KILN_DATASET_IMAGES']))\n"
    )
    snap = push_folder(cluster, {"read.py": code})
    run = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "read.py"), snap, runtime="process", datasets=("images",))
    )
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    assert cluster.output(run.id).splitlines() == ["['images'] True", "True"]
