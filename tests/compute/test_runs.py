"""Runs end to end through a real coordinator and agent, on each runtime."""

from __future__ import annotations

import pytest

from kiln.core.errors import FailedPrecondition, PermissionDenied
from kiln.core.runs import Resources, RunSpec
from tests.compute.conftest import BUSYBOX, push_folder

RUNTIMES = ["process", "docker"]


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
    return request.param


def spec(snapshot: str, runtime: str, command: str, **kw) -> RunSpec:
    image = BUSYBOX if runtime == "docker" else ""
    return RunSpec("p", ("sh", "-c", command), snapshot, image, runtime, **kw)


def test_a_run_succeeds_with_complete_ordered_logs_and_an_output_snapshot(cluster, runtime):
    cluster.agent("n1", runtimes=(runtime,))
    snap = push_folder(cluster, {"input.txt": "hello input\n"})
    run = cluster.admin.submit_run(spec(snap, runtime, "cat input.txt; seq 1 3000; echo err >&2; echo made > out.txt"))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded" and done.exit_code == 0 and done.node == "n1" and done.runtime == runtime
    lines = cluster.output(run.id).splitlines()
    assert lines == ["hello input"] + [str(i) for i in range(1, 3001)]
    stderr = b"".join(c.data for c in cluster.admin.read_logs(run.id) if c.stream == "stderr")
    assert stderr == b"err\n"
    _, entries = cluster.admin.get_snapshot(done.output_snapshot, "p")
    assert {e.path for e in entries} == {"input.txt", "out.txt"}
    states = [str(e.state) for e in done.events]
    assert states == ["queued", "assigned", "preparing", "running", "succeeded"]


def test_a_failing_run_reports_its_exit_code(cluster, runtime):
    cluster.agent("n1", runtimes=(runtime,))
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(spec(snap, runtime, "echo about to fail; exit 3"))
    done = cluster.wait_run(run.id)
    assert (str(done.state), done.exit_code) == ("failed", 3)
    assert cluster.output(run.id) == "about to fail\n"


def test_cancel_reaches_a_running_job(cluster, runtime):
    cluster.agent("n1", runtimes=(runtime,))
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(
        spec(snap, runtime, "trap 'echo stopping; exit 7' TERM; echo started; while true; do sleep 0.1; done")
    )
    cluster.wait_run(run.id, ("running",))
    from tests.conftest import wait_until

    wait_until(lambda: "started" in cluster.output(run.id), 30, "the job's first line")
    cluster.admin.cancel_run(run.id)
    done = cluster.wait_run(run.id)
    assert str(done.state) == "cancelled" and done.exit_code == 7
    assert cluster.output(run.id) == "started\nstopping\n"


def test_a_job_ignoring_sigterm_is_killed_after_the_grace(cluster):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(spec(snap, "process", "trap '' TERM; echo started; while true; do sleep 0.1; done"))
    from tests.conftest import wait_until

    wait_until(lambda: "started" in cluster.output(run.id), 30, "the job's first line")
    cluster.admin.cancel_run(run.id)
    done = cluster.wait_run(run.id)
    assert str(done.state) == "cancelled" and done.exit_code in (137, -9)


def test_a_queued_run_is_cancelled_at_once(cluster):
    snap = push_folder(cluster, {"x": "x"})
    cluster.agent("n1", cpus=1)
    blocker = cluster.admin.submit_run(spec(snap, "process", "while true; do sleep 0.1; done"))
    cluster.wait_run(blocker.id, ("running",))
    queued = cluster.admin.submit_run(spec(snap, "process", "echo never"))
    assert str(cluster.admin.cancel_run(queued.id).state) == "cancelled"
    cluster.admin.cancel_run(blocker.id)
    cluster.wait_run(blocker.id)


def test_a_run_no_node_could_ever_fit_is_refused_with_the_reason(cluster):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    with pytest.raises(FailedPrecondition, match="n1: 2 GPUs asked, 0 there"):
        cluster.admin.submit_run(RunSpec("p", ("true",), snap, resources=Resources(gpus=2)))
    with pytest.raises(FailedPrecondition, match="lacks labels zone=b"):
        cluster.admin.submit_run(RunSpec("p", ("true",), snap, node_labels={"zone": "b"}))
    assert cluster.admin.list_runs("p") == []


def test_runs_are_private_to_project_members(cluster):
    from tests.conftest import login

    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(spec(snap, "process", "echo secret"))
    cluster.admin.create_user("eve", "eve-password")
    eve = login(cluster.coordinator, "eve", "eve-password")
    with pytest.raises(PermissionDenied):
        eve.get_run(run.id)
    with pytest.raises(PermissionDenied):
        list(eve.read_logs(run.id))
    with pytest.raises(PermissionDenied):
        eve.submit_run(spec(snap, "process", "echo mine"))
    assert eve.list_runs() == []
    cluster.wait_run(run.id)
