"""Runs that log through kiln.track, end to end: SDK -> agent socket -> spool -> coordinator -> queries."""

from __future__ import annotations

import math
import sys

from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import wait_until

TRAIN = """
import kiln.track as kt, os
kt.log_params({"lr": 0.01, "optimizer": "adam"})
kt.set_tag("team", "vision")
for step in range(300):
    kt.log_metric("loss", 1.0 / (step + 1))
kt.log_metric("acc", 0.93)
kt.log_metric("weird", float("nan"))
os.makedirs("out/model", exist_ok=True)
open("out/model/weights.bin", "w").write("w")
plot = os.path.join(os.environ.get("TMPDIR", "/tmp"), "kiln-test-plot.txt")  # outside the run's folder
open(plot, "w").write("plot")
kt.log_artifact(plot, name="plot.txt")
kt.log_model("out/model", name="classifier", flavor="sklearn")
print("trained")
"""


def run_script(cluster, script: str, **spec) -> str:
    snap = push_folder(cluster, {"train.py": script})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, **spec))
    return run.id


def test_a_run_records_params_metrics_tags_artifacts_model_and_environment(cluster):
    cluster.agent("n1")
    run_id = run_script(cluster, TRAIN)
    done = cluster.wait_run(run_id)
    assert str(done.state) == "succeeded", cluster.output(run_id)
    record = cluster.admin.run_record(run_id)
    assert record.params == {"lr": "0.01", "optimizer": "adam"} and record.tags == {"team": "vision"}
    final = {k: (v, step, n) for k, v, step, _, _, n in record.metrics}
    assert final["loss"] == (1.0 / 300, 299, 300) and final["acc"][0] == 0.93 and math.isnan(final["weird"][0])
    assert record.artifacts == ["artifacts/plot.txt"]
    assert record.models == [("out/model", "classifier", "sklearn")]  # inside the workdir: kept where it is
    env = record.environment
    assert env["runtime"] == "process" and env["node"] == "n1" and "python" in env
    assert any(line.startswith("grpcio==") for line in env["packages"].splitlines())
    _, entries = cluster.admin.get_snapshot(done.output_snapshot, "p")
    assert {"artifacts/plot.txt", "out/model/weights.bin"} <= {e.path for e in entries}
    assert record.inputs == [f"snapshot:{done.spec.snapshot}"]


def test_metric_history_is_downsampled_on_the_coordinator(cluster):
    cluster.agent("n1")
    run_id = run_script(
        cluster,
        "import kiln.track as kt\nkt.log_metrics({'x': 0.0}, step=0)\n"
        "for i in range(1, 5000): kt.log_metric('x', float(i), step=i)\n",
    )
    cluster.wait_run(run_id)
    [series] = cluster.admin.metrics(run_id, ["x"], max_points=100)
    points = series.points
    assert series.key == "x" and series.total_points == 5000 and len(points) <= 100
    assert points[0][:2] == (0, 0.0) and points[-1][:2] == (4999, 4999.0)
    steps = [p[0] for p in points]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)


def test_a_coordinator_down_mid_run_loses_and_duplicates_no_metric(cluster):
    from tests.compute.conftest import FAST
    from tests.conftest import login, start_coordinator

    cluster.agent("n1")
    script = (
        "import kiln.track as kt, time\nfor i in range(400):\n    kt.log_metric('m', float(i))\n"
        "    if i % 50 == 0: kt.flush(); print('at', i, flush=True)\n    time.sleep(0.005)\n"
    )
    run_id = run_script(cluster, script)
    wait_until(lambda: "at 50" in cluster.output(run_id), 60, "the run to log a while")
    old = cluster.coordinator
    old.stop()
    cluster.coordinator = start_coordinator(
        old.ctx.config.data_dir, listen=f"127.0.0.1:{old.port}", agent_listen=f"127.0.0.1:{old.agent_port}", **FAST
    )
    cluster.admin = login(cluster.coordinator, "admin", "admin-password-1")
    assert str(cluster.wait_run(run_id, timeout=120).state) == "succeeded"
    [series] = cluster.admin.metrics(run_id, ["m"], max_points=10_000)
    assert series.total_points == 400 and [p[0] for p in series.points] == list(range(400))


def test_a_node_cannot_log_into_a_run_it_does_not_run(cluster):
    from kiln.agent import identity
    from kiln.client import Client
    from kiln.proto.v1 import link_pb2, link_pb2_grpc, tracking_pb2

    cluster.agent("n1")
    run_id = run_script(cluster, "print('mine')")
    cluster.wait_run(run_id)
    other = identity.enroll(cluster.tmp / "id-x", cluster.coordinator.address, cluster.join_token(), "x", {})
    forged = link_pb2.AgentMessage(
        seq=1, track=tracking_pb2.TrackBatch(run_id=run_id, attempt=1, pid=1, seq=1, params={"lr": "666"})
    )
    hello = link_pb2.AgentMessage(hello=link_pb2.Hello(name="x"))
    with Client(
        other.agent_address(cluster.coordinator.agent_port), other.ca_pem, node_identity=(other.key_pem, other.cert_pem)
    ) as c:
        replies = link_pb2_grpc.AgentGatewayStub(c.channel).Connect(iter([hello, forged]))
        kinds = [next(replies).WhichOneof("body") for _ in range(2)]
        replies.cancel()
    assert kinds == ["welcome", "ack"]  # received, and ignored: the run is not x's
    assert cluster.admin.run_record(run_id).params == {}
