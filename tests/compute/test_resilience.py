"""Nothing is lost when parts fail: an agent killed mid-run, a coordinator restarted mid-run, a node lost
past its grace period (the run retried elsewhere, the stale attempt stopped)."""

from __future__ import annotations

import os
import signal

from kiln.core.runs import RunSpec
from tests.compute.conftest import BUSYBOX, push_folder
from tests.conftest import login, start_coordinator, wait_until

SLOW_COUNT = "for i in $(seq 1 60); do echo line $i; sleep 0.05; done"


def test_an_agent_killed_mid_run_reattaches_and_the_run_finishes_with_complete_logs(cluster, docker_ready):
    proc = cluster.agent_process("n1", runtimes=("docker",))
    wait_until(lambda: cluster.node_state("n1") == "ready", 30, "the agent process to connect")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", SLOW_COUNT), snap, BUSYBOX, "docker"))
    wait_until(lambda: "line 5\n" in cluster.output(run.id), 60, "the run to print a few lines")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert str(cluster.admin.get_run(run.id).state) == "running"  # a disconnect is not a death
    cluster.agent_process("n1", runtimes=("docker",), token="")  # enrolled already: no token needed
    done = cluster.wait_run(run.id, timeout=90)
    assert str(done.state) == "succeeded" and done.attempt == 1
    assert cluster.output(run.id).splitlines() == [f"line {i}" for i in range(1, 61)]


def test_a_coordinator_restarted_mid_run_loses_no_log_line(cluster, tmp_path):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", SLOW_COUNT), snap))
    wait_until(lambda: "line 3\n" in cluster.output(run.id), 60, "the run to print a few lines")
    old = cluster.coordinator
    old.stop()
    from tests.compute.conftest import FAST

    cluster.coordinator = start_coordinator(
        old.ctx.config.data_dir,
        listen=f"127.0.0.1:{old.port}",
        agent_listen=f"127.0.0.1:{old.agent_port}",
        **FAST,
    )
    cluster.admin = login(cluster.coordinator, "admin", "admin-password-1")
    done = cluster.wait_run(run.id, timeout=90)
    assert str(done.state) == "succeeded"
    assert cluster.output(run.id).splitlines() == [f"line {i}" for i in range(1, 61)]


def test_a_node_lost_past_grace_has_its_run_retried_elsewhere_and_the_stale_attempt_stopped(cluster):
    proc = cluster.agent_process("a")
    wait_until(lambda: cluster.node_state("a") == "ready", 30, "agent a to connect")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(
        RunSpec("p", ("sh", "-c", "echo attempt on $KILN_RUN_ID; sleep 30"), snap, retries=1)
    )
    cluster.wait_run(run.id, ("running",))
    os.killpg(proc.pid, signal.SIGSTOP)  # frozen: connected but silent, like a hung machine
    # (that an unreachable node's runs keep running until the grace ends is a decision of the dispatcher's,
    # shown on a fake clock in tests/coordinator/test_dispatch.py)
    wait_until(lambda: cluster.node_state("a") == "unreachable", 20, "node a to be unreachable")
    cluster.agent("b")
    retried = wait_until(
        lambda: (r := cluster.admin.get_run(run.id)).attempt == 2 and str(r.state) == "running" and r,
        30,
        "the run to be retried on b",
    )
    assert retried.node == "b"
    assert [str(e.state) for e in retried.events][-3:] == ["assigned", "preparing", "running"]
    assert any(str(e.state) == "lost" and "silent" in e.cause for e in retried.events)
    os.killpg(proc.pid, signal.SIGCONT)  # a comes back holding attempt 1: it is told to stop it
    wait_until(lambda: "a" in {n.name for n in cluster.admin.list_nodes() if n.state == "ready"}, 30, "a back")
    jobs = cluster.tmp / "agent-a" / "runtimes" / "process" / "jobs"
    wait_until(lambda: not any(jobs.glob(f"{run.id}.1")), 30, "the stale attempt to be stopped and reaped")
    cluster.admin.cancel_run(run.id)
    assert str(cluster.wait_run(run.id).state) == "cancelled"


def test_drained_nodes_take_no_new_runs(cluster):
    cluster.agent("n1")
    cluster.admin.set_drain("n1", True)
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("echo", "hi"), snap))
    assert cluster.node_state("n1") == "draining"
    assert str(cluster.admin.get_run(run.id).state) == "queued"
    cluster.admin.set_drain("n1", False)
    assert str(cluster.wait_run(run.id).state) == "succeeded"
