"""GPU placement with declared GPU inventories (no GPU on these machines): runs get whole GPUs by UUID,
never shared, matched by model, and the job sees exactly its GPUs."""

from __future__ import annotations

from kiln.core.runs import Resources, RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import wait_until

A100 = [{"uuid": f"GPU-a100-{i}", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 80 << 30} for i in range(2)]
T4 = [{"uuid": "GPU-t4-0", "model": "Tesla T4", "memory_bytes": 16 << 30}]
HOLD = "echo gpus=$CUDA_VISIBLE_DEVICES; while [ ! -e stop ]; do sleep 0.05; done"


def test_gpus_are_placed_by_uuid_never_shared_and_visible_to_the_job(cluster):
    cluster.agent("big", gpus=A100)
    cluster.agent("small", gpus=T4)
    snap = push_folder(cluster, {"x": "x"})
    runs = [
        cluster.admin.submit_run(RunSpec("p", ("sh", "-c", HOLD), snap, resources=Resources(gpus=1, gpu_model="a100")))
        for _ in range(3)
    ]
    wait_until(
        lambda: sum(str(cluster.admin.get_run(r.id).state) == "running" for r in runs) == 2,
        30,
        "two A100 runs to start",
    )
    placed = [cluster.admin.get_run(r.id) for r in runs]
    running = [r for r in placed if str(r.state) == "running"]
    assert sorted(u for r in running for u in r.gpu_uuids) == ["GPU-a100-0", "GPU-a100-1"]
    assert {r.node for r in running} == {"big"}
    assert [str(r.state) for r in placed].count("queued") == 1  # waits: the T4 node does not match
    for r in running:
        wait_until(lambda r=r: f"gpus={r.gpu_uuids[0]}\n" in cluster.output(r.id), 30, "the job to print its GPU")
    t4 = cluster.admin.submit_run(
        RunSpec(
            "p",
            ("sh", "-c", "echo gpus=$CUDA_VISIBLE_DEVICES"),
            snap,
            resources=Resources(gpus=1, gpu_model="t4"),
        )
    )
    done = cluster.wait_run(t4.id)
    assert done.node == "small" and done.gpu_uuids == ("GPU-t4-0",) and cluster.output(t4.id) == "gpus=GPU-t4-0\n"
    for r in runs:
        cluster.admin.cancel_run(r.id)


def test_a_node_lists_its_declared_gpus(cluster):
    cluster.agent("big", gpus=A100)
    node = next(n for n in cluster.admin.list_nodes() if n.name == "big")
    assert [g.uuid for g in node.inventory.gpus] == ["GPU-a100-0", "GPU-a100-1"]
