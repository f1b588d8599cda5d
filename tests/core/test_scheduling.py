"""The scheduler as a pure function, over declared node inventories (GPUs included)."""

from collections import Counter

from kiln.core.models import GpuInfo as Gpu
from kiln.core.runs import Resources
from kiln.core.scheduling import NodeView, Pending, never_fits, schedule

A100 = [Gpu(f"GPU-a{i}", "NVIDIA A100-SXM4-80GB", 80 << 30) for i in range(4)]
T4 = [Gpu(f"GPU-t{i}", "Tesla T4", 16 << 30) for i in range(2)]


def node(name, cpus=8, mem=32 << 30, gpus=(), runtimes=("docker", "process"), **kw):
    return NodeView(name, cpus, mem, tuple(gpus), runtimes=frozenset(runtimes), **kw)


def run(rid, user="alice", prio=1, t=0.0, cpus=1.0, mem=0, gpus=0, model="", **kw):
    return Pending(rid, user, prio, t, Resources(cpus, mem, gpus, model), **kw)


def test_gpus_are_assigned_by_uuid_and_never_shared():
    nodes = [node("g1", gpus=A100[:2])]
    placed = schedule([run("r1", gpus=1), run("r2", gpus=1, t=1), run("r3", gpus=1, t=2)], nodes, Counter())
    assert [(p.run_id, p.gpu_uuids) for p in placed] == [("r1", ("GPU-a0",)), ("r2", ("GPU-a1",))]
    busy = [node("g1", gpus=A100[:2], busy_gpus=frozenset({"GPU-a0"}))]
    assert [p.gpu_uuids for p in schedule([run("r4", gpus=1)], busy, Counter())] == [("GPU-a1",)]


def test_gpu_model_is_matched():
    nodes = [node("t4", gpus=T4), node("a100", gpus=A100)]
    [p] = schedule([run("r", gpus=2, model="a100")], nodes, Counter())
    assert p.node == "a100" and len(p.gpu_uuids) == 2


def test_cpu_and_memory_fit_now_or_wait():
    nodes = [node("n", cpus=4, mem=8 << 30, used_cpus=3)]
    assert schedule([run("big", cpus=2)], nodes, Counter()) == []
    assert [p.run_id for p in schedule([run("small", cpus=1)], nodes, Counter())] == ["small"]
    assert schedule([run("mem", mem=16 << 30)], nodes, Counter()) == []


def test_priority_then_fair_share_then_fifo():
    nodes = [node("n", cpus=3)]
    queue = [
        run("a1", "alice", t=1),
        run("a2", "alice", t=2),
        run("a3", "alice", t=3),
        run("b1", "bob", t=4),
        run("hi", "carol", prio=2, t=9),
    ]
    placed = [p.run_id for p in schedule(queue, nodes, Counter({"alice": 1}))]
    assert placed == ["hi", "b1", "a1"]


def test_labels_runtime_and_drained_nodes():
    nodes = [
        node("cpu", labels={"zone": "a"}, runtimes=("process",)),
        node("dock", labels={"zone": "b"}, runtimes=("docker",)),
        node("off", labels={"zone": "a"}, schedulable=False),
    ]
    assert schedule([run("r", node_labels={"zone": "a"})], nodes, Counter())[0].node == "cpu"
    [p] = schedule([run("img", image="busybox")], nodes, Counter())
    assert (p.node, p.runtime) == ("dock", "docker")
    assert schedule([run("x", node_labels={"zone": "c"})], nodes, Counter()) == []


def test_cpu_runs_keep_off_gpu_nodes_and_gpu_runs_pack():
    nodes = [node("gpu", gpus=A100[:2]), node("plain")]
    assert schedule([run("cpu")], nodes, Counter())[0].node == "plain"
    nodes = [node("g-full", gpus=A100[:2], busy_gpus=frozenset({"GPU-a0"})), node("g-empty", gpus=T4)]
    assert schedule([run("g", gpus=1)], nodes, Counter())[0].node == "g-full"


def test_a_run_no_node_could_ever_fit_gets_the_reason():
    nodes = [node("small", cpus=2, gpus=T4)]
    assert never_fits(run("r", cpus=1), nodes) is None
    assert "4 GPUs" in never_fits(run("r", gpus=4), nodes)
    assert "matching 'h100'" in never_fits(run("r", gpus=1, model="h100"), nodes)
    assert "64 CPUs" in never_fits(run("r", cpus=64), nodes)
    assert "no nodes are registered" in never_fits(run("r"), [])
    assert "runtime" in never_fits(run("r", runtime="slurm"), nodes)


def test_a_node_holding_the_runs_environment_comes_first_and_others_still_take_it():
    env = "e" * 64
    nodes = [node("a", cpus=8), node("b", cpus=2, environments=frozenset({env}))]
    # b has less room, which would send a plain run to a; holding the environment wins
    assert [p.node for p in schedule([run("r1", environment=env)], nodes, Counter())] == ["b"]
    assert [p.node for p in schedule([run("r2")], nodes, Counter())] == ["a"]
    # when b is full, a takes it (and fetches or builds the environment first)
    full = [node("a", cpus=8), node("b", cpus=2, used_cpus=2, environments=frozenset({env}))]
    assert [p.node for p in schedule([run("r3", environment=env)], full, Counter())] == ["a"]


def test_one_pass_spreads_cpu_runs_packs_gpu_runs_and_skips_full_nodes():
    nodes = [node("a", cpus=2), node("b", cpus=4), node("c", cpus=3), node("g", cpus=8, gpus=A100)]
    queue = [run(f"c{i}", t=i) for i in range(9)] + [run(f"g{i}", gpus=g, t=10 + i) for i, g in enumerate((1, 3, 1))]
    placed = {p.run_id: p for p in schedule(queue, nodes, Counter())}
    # CPU runs go where most room is left, GPU nodes last (a tie goes by name); 9 of them fill the 9 CPUs
    # of the plain nodes, so none lands on g
    assert [placed[f"c{i}"].node for i in range(9)] == ["b", "b", "c", "a", "b", "c", "a", "b", "c"]
    # GPU runs pack: g1 asks for 3 GPUs and gets the last 3 of g; g2 finds none idle and waits
    assert [placed[r].gpu_uuids for r in ("g0", "g1")] == [("GPU-a0",), ("GPU-a1", "GPU-a2", "GPU-a3")]
    assert "g2" not in placed


def test_a_size_no_node_takes_now_does_not_hold_back_smaller_runs():
    nodes = [node("n1", cpus=2, used_cpus=1), node("n2", cpus=2, used_cpus=1)]
    queue = [run("big", cpus=2, t=0), run("bigger", cpus=4, t=1), run("s1", t=2), run("s2", t=3), run("s3", t=4)]
    assert [(p.run_id, p.node) for p in schedule(queue, nodes, Counter())] == [("s1", "n1"), ("s2", "n2")]
