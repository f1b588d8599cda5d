"""GetProjectSummary through the real coordinator: runs by state, the latest activity, the blobs held, the
members and the best run (by a metric and its direction, else the latest succeeded run), bounded inputs,
and nothing for someone who may not read the project."""

from __future__ import annotations

import sys

import pytest

from kiln.core import overview
from kiln.core.errors import InvalidArgument, PermissionDenied
from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder

LOGS = "import kiln.track as kt, sys\nkt.set_tag('name', sys.argv[1])\nkt.log_metric('auc', float(sys.argv[2]))\n"


def run(cluster, snap: str, *args: str) -> str:
    submitted = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py", *args), snap, runtime="process"))
    return cluster.wait_run(submitted.id).id


def held_bytes(client, project: str) -> tuple[int, int]:
    """The distinct blobs of every snapshot of the project, and their bytes, counted here from manifests."""
    sizes: dict[str, int] = {}
    for snap in client.list_snapshots(project):
        for entry in client.get_snapshot(snap.id, project)[1]:
            if entry.has_blob:
                sizes[entry.digest] = entry.size
    return len(sizes), sum(sizes.values())


def test_a_projects_summary_counts_its_runs_and_names_its_best(cluster):
    cluster.agent("n1")
    snap = push_folder(cluster, {"train.py": LOGS})
    low, high = run(cluster, snap, "small", "0.71"), run(cluster, snap, "big", "0.93")
    failed = cluster.admin.submit_run(RunSpec("p", (sys.executable, "-c", "raise SystemExit(2)"), snap))
    assert str(cluster.wait_run(failed.id).state) == "failed"
    runs = {r.id: r for r in cluster.admin.list_runs("p")}

    best_high = cluster.admin.project_summary("p", "auc", "max")
    assert best_high.runs_by_state == {"succeeded": 2, "failed": 1} and best_high.runs == 3
    assert best_high.best is not None
    assert (best_high.best.run_id, best_high.best.name, best_high.best.metric) == (high, "big", "auc")
    assert best_high.best.value == pytest.approx(0.93) and best_high.best.direction == "max"
    assert best_high.last_activity >= max(r.finished_at for r in runs.values()) > 0
    assert (best_high.storage_blobs, best_high.storage_bytes) == held_bytes(cluster.admin, "p")
    assert best_high.storage_bytes > 0 and best_high.members == 1

    best_low = cluster.admin.project_summary("p", "auc", "min").best
    assert best_low is not None and (best_low.run_id, best_low.name) == (low, "small")

    chosen = cluster.admin.project_summary("p").best  # the metric most runs logged, its name's direction
    assert overview.direction_of("auc") == "max" and chosen is not None
    assert (chosen.run_id, chosen.metric, chosen.direction) == (high, "auc", "max")

    # A name that says neither way: the latest succeeded run, and no claim that it is the best.
    unsure = cluster.admin.project_summary("p", "epochs").best
    latest = max((r for r in runs.values() if str(r.state) == "succeeded"), key=lambda r: r.finished_at)
    assert overview.direction_of("epochs") == "" and unsure is not None
    assert (unsure.run_id, unsure.metric, unsure.value) == (latest.id, "", None)

    nothing = cluster.admin.project_summary("p", "no-such-metric", "max").best  # then the latest succeeded
    assert nothing is not None and nothing.metric == ""


def test_a_project_without_runs_has_an_empty_summary(admin):
    admin.create_project("empty")
    found = admin.project_summary("empty")
    assert (found.runs_by_state, found.best, found.storage_bytes, found.members) == ({}, None, 0, 1)
    assert found.last_activity == 0


def test_a_summary_is_for_readers_only_and_its_inputs_are_bounded(admin, make_user):
    admin.create_project("secret")
    eve = make_user("eve")
    with pytest.raises(PermissionDenied, match="not a member"):
        eve.project_summary("secret")
    with pytest.raises(InvalidArgument, match="direction 'up'"):
        admin.project_summary("secret", "auc", "up")
    with pytest.raises(InvalidArgument, match="metric has 300 characters"):
        admin.project_summary("secret", "m" * 300)
    with pytest.raises(InvalidArgument, match="project is 1 KiB"):
        admin.project_summary("s" * 1024)
