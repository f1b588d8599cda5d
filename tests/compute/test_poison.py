"""A report the coordinator cannot apply does not wedge its node: it is logged with its traceback, tried a
few times, then acknowledged and set aside for inspection, while the node's other runs keep reporting."""

from __future__ import annotations

import json
import logging

import pytest

from kiln.core.errors import PermissionDenied
from kiln.core.runs import RunSpec
from kiln.proto.v1 import link_pb2
from tests.compute.conftest import push_folder
from tests.conftest import Cli, login, wait_until

COUNT = "for i in $(seq 1 30); do echo tick $i; sleep 0.05; done"


def test_a_report_in_a_state_this_coordinator_does_not_know_is_set_aside_and_the_node_goes_on(
    cluster, caplog, tmp_path, capsys, monkeypatch
):
    caplog.set_level(logging.ERROR, logger="kiln.coordinator.dispatch")
    n1 = cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    first = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", COUNT), snap))
    cluster.wait_run(first.id, ("running",))
    # What a newer agent could send: a run state this coordinator has never heard of, in the real spool
    newer = link_pb2.AgentMessage(
        run_update=link_pb2.RunUpdate(run_id=first.id, attempt=1, state="paused", time=1.0)
    ).SerializeToString()
    with n1.agent.spool.transaction() as conn:
        conn.execute("INSERT INTO outbox (payload) VALUES (?)", [newer])

    [kept] = wait_until(lambda: cluster.admin.list_quarantined("n1"), 60, "the report to be set aside")
    assert kept.kind == "run_update" and kept.failures == 3
    assert "paused" in kept.message and "unknown run state 'paused'" in kept.error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "could not read report" in r.getMessage()]
    assert len(errors) == 3 and "Traceback" in errors[0].getMessage()

    # the link goes on: the run it was about, and a new one, report to the end on the same node
    done = cluster.wait_run(first.id)
    assert str(done.state) == "succeeded" and done.attempt == 1
    assert cluster.output(first.id).splitlines() == [f"tick {i}" for i in range(1, 31)]
    second = cluster.admin.submit_run(RunSpec("p", ("echo", "after"), snap))
    assert str(cluster.wait_run(second.id).state) == "succeeded" and cluster.output(second.id) == "after\n"
    wait_until(lambda: n1.agent.spool.pending_count() == 0, 30, "the spool to be acknowledged to the end")

    kcli = Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)
    data = cluster.coordinator.ctx.config.data_dir
    [node] = json.loads(kcli.ok("nodes", "--json"))
    assert node["quarantined"] == 1
    assert "1 report(s) set aside; see kiln node quarantine n1" in kcli.ok("nodes")
    [listed] = json.loads(kcli.ok("node", "quarantine", "n1", "--json"))
    assert listed["seq"] == kept.seq and listed["kind"] == "run_update"
    assert "unknown run state" in kcli.ok("node", "quarantine")
    doctor = {c["name"]: c for c in json.loads(kcli("doctor", "--coordinator-data", str(data), "--json").out)}
    assert doctor["agent reports"]["status"] == "warn" and "n1 (1)" in doctor["agent reports"]["finding"]
    assert "kiln node quarantine" in doctor["agent reports"]["fix"]
    cluster.admin.create_user("dev", "dev-password-1")
    with login(cluster.coordinator, "dev", "dev-password-1") as dev, pytest.raises(PermissionDenied, match="admin"):
        dev.list_quarantined("n1")
