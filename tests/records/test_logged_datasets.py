"""kt.log_dataset through a real agent and coordinator: the agent checks the name against the project's
datasets before the SDK records it, so a version that does not exist raises in the run, naming the
versions there are, instead of vanishing on the coordinator."""

from __future__ import annotations

import sys

from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder

SCRIPT = """
import kiln.track as kt
for name in ("images:2", "images@3", "labels", "images"):
    try:
        kt.log_dataset(name)
        print("logged", name)
    except ValueError as e:
        print(e)
"""


def test_log_dataset_raises_for_what_the_project_lacks_and_records_the_rest(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.agent("n1")
    for text in ("v1", "v2"):
        cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"f.txt": text}))
    snap = push_folder(cluster, {"train.py": SCRIPT})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", cluster.output(run.id)
    assert cluster.output(run.id).splitlines() == [
        "logged images:2",
        "kiln.track: dataset images has no version 3 in project p; it has versions 1, 2",
        "kiln.track: project p has no dataset 'labels'; it has images",
        "logged images",
    ]
    record = cluster.admin.run_record(run.id)
    assert "dataset:p/images@2" in record.inputs
    assert "dataset:p/images@3" not in record.inputs


def test_a_bare_name_is_the_version_the_run_was_given_not_the_latest(cluster) -> None:  # type: ignore[no-untyped-def]
    cluster.agent("n1")
    for text in ("v1", "v2"):
        cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"f.txt": text}))
    snap = push_folder(cluster, {"train.py": "import kiln.track as kt\nkt.log_dataset('images')\n"})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, datasets=("images:1",)))
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    inputs = cluster.admin.run_record(run.id).inputs
    assert "dataset:p/images@1" in inputs and "dataset:p/images@2" not in inputs
