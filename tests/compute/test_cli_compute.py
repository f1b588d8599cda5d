"""The compute commands of `kiln` against a real cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from kiln.core import clock
from kiln.core.errors import InvalidArgument
from kiln.core.runs import Run, RunSpec, RunState
from tests.compute.conftest import BUSYBOX
from tests.compute.test_up import kiln, start_up, stop
from tests.conftest import Cli, wait_until


@pytest.fixture
def kcli(cluster, tmp_path, capsys, monkeypatch) -> Cli:
    cli = Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)
    return cli


def test_nodes_tokens_and_drain_from_the_command_line(cluster, kcli):
    token = json.loads(kcli.ok("node", "token", "create", "--uses", "2", "--expires", "10m", "--json"))
    assert token["token"].startswith("kjt_") and token["uses"] == 2
    cluster.agent("n1")
    [node] = json.loads(kcli.ok("nodes", "--json"))
    assert node["name"] == "n1" and node["state"] == "ready" and node["cpus"] > 0
    kcli.ok("node", "drain", "n1")
    assert json.loads(kcli.ok("nodes", "--json"))[0]["state"] == "draining"
    kcli.ok("node", "undrain", "n1")
    bad = kcli("node", "drain", "ghost")
    assert bad.code == 1 and "no node named 'ghost'" in bad.err


def test_run_runs_logs_show_and_cancel(cluster, kcli, tmp_path, monkeypatch):
    cluster.agent("n1")
    work = tmp_path / "work"
    work.mkdir()
    (work / "data.txt").write_text("42\n")
    monkeypatch.chdir(work)
    submitted = json.loads(
        kcli.ok("run", "-p", "p", "--json", "-e", "GREETING=hi", "--", "sh", "-c", "echo $GREETING; cat data.txt")
    )
    assert submitted["state"] == "queued" and submitted["command"] == [
        "sh",
        "-c",
        "echo $GREETING; cat data.txt",
    ]
    cluster.wait_run(submitted["id"])
    assert kcli.ok("logs", submitted["id"]) == "hi\n42\n"
    shown = json.loads(kcli.ok("run", "show", submitted["id"], "--json"))
    assert shown["state"] == "succeeded" and shown["exit_code"] == 0 and shown["node"] == "n1"
    assert [e["state"] for e in shown["events"]][-1] == "succeeded"
    listed = json.loads(kcli.ok("runs", "-p", "p", "--state", "succeeded", "--json"))
    assert [r["id"] for r in listed] == [submitted["id"]]
    many = kcli.ok("run", "-p", "p", "--", "seq", "1", "300000").strip()  # about 2 MiB of output
    cluster.wait_run(many)
    whole = kcli.ok("logs", many)
    tailed = kcli("logs", many, "--tail", "100K")
    assert tailed.code == 0 and whole.endswith(tailed.out) and "300000\n" in tailed.out
    assert 100 * 1024 <= len(tailed.out) < 100 * 1024 + 64 * 1024  # the last whole chunks holding 100 KiB
    assert f"of earlier output not shown; kiln logs {many} shows all" in tailed.err
    for bad, says in (("lots", "not a size"), ("0", "above 0"), ("2G", "tail_bytes")):
        refused = kcli("logs", many, "--tail", bad)
        assert refused.code == 1 and says in refused.err and refused.out == "", (bad, refused.err)
    long = kcli.ok("run", "-p", "p", "--", "sh", "-c", "echo up; while true; do sleep 0.1; done").strip()
    wait_until(lambda: kcli.ok("logs", long) == "up\n", 30, "the long run to start")
    kcli.ok("cancel", long)
    assert cluster.wait_run(long).state == "cancelled"
    again = kcli("cancel", long)
    assert again.code == 1 and "already ended" in again.err


def test_run_errors_are_one_line(cluster, kcli, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert "nothing to run" in kcli("run", "-p", "p").err
    assert "KEY=VALUE" in kcli("run", "-p", "p", "-e", "oops", "--", "true").err  # a name: an environment
    refused = kcli("run", "-p", "p", "--gpus", "8", "--", "true")
    assert refused.code == 1 and "no nodes are registered" in refused.err
    assert kcli("run", "show", "r-nope").code == 1


TRAIN = """\
import os, sys
import kiln.track as kt
kt.log_params({"lr": os.environ["LR"], "epochs": 3})
for step, acc in enumerate((0.5, 0.7, 0.9)):
    kt.log_metric("acc", acc)
os.makedirs("out/model", exist_ok=True)
open("out/model/w.txt", "w").write("weights")
open("out/loss.txt", "w").write("0.1")
kt.log_artifact("out/loss.txt")
kt.log_model("out/model", name="churn", flavor="sklearn")
kt.log_dataset("rows:1")
print("trained on", open(os.path.join(os.environ["KILN_DATASETS"], "rows", "rows.csv")).read().strip())
"""


def _work(tmp_path, monkeypatch, files: dict[str, str]):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text)
    monkeypatch.chdir(work)
    return work


def _finished(cluster, kcli: Cli, *argv: str) -> dict:
    """`kiln run -p p ARGV --json`, once the run has ended, as `kiln run show --json` gives it."""
    submitted = json.loads(kcli.ok("run", "-p", "p", "--json", *argv))
    cluster.wait_run(submitted["id"])
    return json.loads(kcli.ok("run", "show", submitted["id"], "--json"))


@pytest.fixture
def trained(cluster, kcli, tmp_path, monkeypatch) -> tuple[dict, dict]:
    """A finished run with every part of a spec set, and its parent; (parent, run) as `kiln run show --json`."""
    cluster.agent("n1", labels={"zone": "a"})
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a,b\n")
    kcli.ok("dataset", "create", "rows", str(tmp_path / "data"), "-p", "p")
    _work(tmp_path, monkeypatch, {"train.py": TRAIN})
    parent = _finished(cluster, kcli, "-e", "LR=0.1", "--dataset", "rows", "--", sys.executable, "train.py")
    run = _finished(
        cluster, kcli, "-e", "LR=0.01", "--label", "zone=a", "--retries", "1", "--priority", "high", "--cpus", "0.5",
        "--memory", "256M", "--dataset", "rows:1", "--parent", parent["id"][:8], "--", sys.executable, "train.py",
    )  # fmt: skip
    assert parent["state"] == run["state"] == "succeeded", (parent, run)
    return parent, run


def test_run_show_gives_the_whole_spec_and_record(cluster, kcli, trained):
    parent, run = trained
    shown = json.loads(kcli.ok("run", "show", run["id"], "--json"))
    assert shown["id"] == run["id"] and shown["state"] == "succeeded" and shown["exit_code"] == 0
    assert shown["command"][1:] == ["train.py"] and shown["snapshot"] == run["snapshot"]
    assert shown["runtime"] == "process" and shown["image"] is None and shown["network"] == "none"
    assert shown["resources"] == {"cpus": 0.5, "memory_bytes": 256 << 20, "gpus": 0, "gpu_model": None}
    assert (shown["priority"], shown["node_labels"], shown["retries"]) == ("high", {"zone": "a"}, 1)
    assert shown["env"] == {"LR": "0.01"} and shown["datasets"] == ["rows:1"]
    assert shown["parent_run"] == parent["id"] and shown["rerun_of"] is None
    assert [e["state"] for e in shown["events"]][0] == "queued" and shown["events"][-1]["state"] == "succeeded"
    assert shown["params"] == {"lr": "0.01", "epochs": "3"}
    assert shown["metrics"] == {"acc": 0.9} and shown["metric_summary"]["acc"] == {
        "step": 2, "min": 0.5, "max": 0.9, "points": 3
    }  # fmt: skip
    assert shown["artifacts"] == ["out/loss.txt"]
    assert shown["models"] == [{"path": "out/model", "name": "churn", "flavor": "sklearn"}]
    assert {"dataset:p/rows@1", f"snapshot:{run['snapshot']}", f"run:{parent['id']}"} <= set(shown["inputs"])
    assert shown["environment"]["python"] and "packages" in shown["environment"]
    assert shown["output_snapshot"]

    table = kcli.ok("run", "show", run["id"])
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in table.splitlines()[:24]}
    assert lines["state"] == "succeeded (exit code 0)" and lines["env"] == "LR=0.01"
    assert lines["resources"] == "0.5 cpu, memory 256.0 MiB, no gpu" and lines["node labels"] == "zone=a"
    assert lines["parent run"] == parent["id"] and lines["rerun of"] == "-" and lines["datasets"] == "rows:1"
    for section in ("params:", "metrics (final):", "artifacts:", "models:", "inputs:", "environment:"):
        assert f"\n{section}\n" in table
    assert ["out/model", "churn", "sklearn"] in [line.split() for line in table.splitlines()]
    assert kcli.ok("logs", run["id"]) == "trained on a,b\n"


def test_rerun_repeats_the_run_and_is_recorded_as_its_rerun(cluster, kcli, trained, make_viewer):
    parent, run = trained
    followed = kcli.ok("rerun", run["id"][:6], "--follow", "--json")
    assert followed.startswith("trained on a,b\n")  # its output, then the run as JSON
    again = json.loads(followed.removeprefix("trained on a,b\n"))
    assert again["state"] == "succeeded" and again["id"] != run["id"] and again["rerun_of"] == run["id"]
    same = ("command", "snapshot", "image", "runtime", "resources", "priority", "node_labels", "retries", "env",
            "network", "datasets", "parent_run")  # fmt: skip
    assert {k: again[k] for k in same} == {k: run[k] for k in same}
    assert kcli.ok("logs", again["id"]) == "trained on a,b\n"
    shown = json.loads(kcli.ok("run", "show", again["id"], "--json"))
    assert shown["rerun_of"] == run["id"] and f"run:{run['id']}" in shown["inputs"]
    graph = json.loads(kcli.ok("lineage", again["id"], "--up", "--json"))
    assert {"src": f"run:{run['id']}", "dst": f"run:{again['id']}", "relation": "rerun"} in graph["edges"]
    listed = {r["id"]: r for r in json.loads(kcli.ok("runs", "-p", "p", "--json"))}
    assert listed[again["id"]]["rerun_of"] == run["id"] and listed[run["id"]]["rerun_of"] is None

    compared = json.loads(kcli.ok("compare", run["id"], again["id"], "--json"))
    rows = {r["field"]: r for r in compared["rows"]}
    assert rows["command"]["differs"] is False and rows["params.lr"]["values"] == ["0.01", "0.01"]
    assert rows["rerun of"] == {"field": "rerun of", "values": ["", run["id"]], "differs": True}
    assert "rerun of" in compared["differing"] and "metrics.acc" not in compared["differing"]
    table = kcli.ok("compare", run["id"], again["id"]).splitlines()
    assert table[0].split()[-2:] == [run["id"], again["id"]]
    marked = {line.split()[1] for line in table[1:] if line.startswith("*")}
    assert "rerun" in marked and "command" not in marked and "params.lr" not in marked
    only = kcli.ok("compare", run["id"], again["id"], "--diff").splitlines()[1:]
    assert only and all(line.startswith("*") for line in only)

    with pytest.raises(InvalidArgument, match="use kiln rerun RUN"):  # only the coordinator says what a rerun is
        cluster.admin.submit_run(_spec_with_rerun(run))
    viewer = make_viewer()
    refused = viewer("rerun", run["id"])
    assert refused.code == 1 and "viewer" in refused.err and refused.err.count("\n") == 1
    assert len(json.loads(kcli.ok("runs", "-p", "p", "--json"))) == 3  # the refusal queued nothing


def _spec_with_rerun(run: dict):
    return RunSpec("p", tuple(run["command"]), run["snapshot"], rerun_of=run["id"])


@pytest.fixture
def make_viewer(cluster, tmp_path, capsys, monkeypatch):
    def make() -> Cli:
        cluster.admin.create_user("vic", "vic-password")
        cluster.admin.set_member("p", "vic", "viewer")
        viewer = Cli(tmp_path / "vic-home", capsys, monkeypatch)
        viewer.ok("login", cluster.coordinator.address, "--user", "vic", "--password-stdin", "--fingerprint",
                  cluster.coordinator.ctx.tls.ca_fingerprint, stdin="vic-password\n")  # fmt: skip
        return viewer

    return make


def _add_run(cluster, run_id: str, project: str = "p") -> None:
    """A run record with a chosen id, so two ids share a prefix (ids are random otherwise); no node has its
    label, so it stays queued however soon the scheduler looks."""
    spec = RunSpec(project, ("true",), node_labels={"pool": "none-such"})
    run = Run(run_id, spec, "admin", RunState.QUEUED, clock.now())
    cluster.coordinator.ctx.store.add_run(run)


def test_a_unique_prefix_names_a_run_wherever_an_id_does(cluster, kcli, trained, make_viewer):
    parent, run = trained
    prefix = run["id"][:6]
    assert json.loads(kcli.ok("run", "show", prefix, "--json"))["id"] == run["id"]
    assert kcli.ok("logs", prefix) == "trained on a,b\n"
    assert json.loads(kcli.ok("metrics", prefix, "--json"))[0]["key"] == "acc"
    assert json.loads(kcli.ok("compare", prefix, parent["id"][:7], "--json"))["runs"][0]["id"] == run["id"]
    assert json.loads(kcli.ok("lineage", prefix, "--json"))["root"] == f"run:{run['id']}"
    version = json.loads(kcli.ok("model", "register", prefix, "out/model", "--name", "churn", "-p", "p", "--json"))
    assert version["run"] == run["id"]
    kcli.ok("comment", f"run:{prefix}", "-m", "looks right")
    assert json.loads(kcli.ok("comments", f"run:{run['id']}", "--json"))[0]["entity"] == f"run:{run['id']}"

    short = kcli("run", "show", "r-1a")
    assert short.code == 1 and "at least 4 hex digits" in short.err and short.err.count("\n") == 1
    _add_run(cluster, "r-abcd00000001")
    _add_run(cluster, "r-abcd00000002")
    ambiguous = kcli("cancel", "r-abcd")
    assert ambiguous.code == 1 and "ambiguous (r-abcd00000001, r-abcd00000002)" in ambiguous.err
    assert kcli("cancel", "r-abcd00000001").code == 0
    assert cluster.admin.get_run("r-abcd00000001").state == "cancelled"
    assert cluster.admin.get_run("r-abcd00000002").state == "queued"  # only the one named
    missing = kcli("logs", "r-ffff")
    assert missing.code == 1 and "no run 'r-ffff'" in missing.err

    cluster.admin.create_project("q")
    _add_run(cluster, "r-beef00000001", project="q")
    viewer = make_viewer()  # a viewer of p only: a prefix finds nothing in q, and says nothing of it
    assert "no run 'r-beef'" in viewer("run", "show", "r-beef").err
    assert json.loads(viewer.ok("run", "show", prefix, "--json"))["id"] == run["id"]


def test_ctrl_c_stops_following_but_not_the_run(cluster, kcli, tmp_path, monkeypatch):
    cluster.agent("n1")
    _work(tmp_path, monkeypatch, {})
    long = kcli.ok("run", "-p", "p", "--", "sh", "-c", "echo up; while true; do sleep 0.1; done").strip()
    wait_until(lambda: kcli.ok("logs", long) == "up\n", 30, "the long run to start")
    for argv in (["logs", long[:8], "-f"], ["rerun", long, "--follow"]):
        follower = subprocess.Popen(
            [sys.executable, "-m", "kiln", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "KILN_HOME": str(kcli.home)},
        )
        assert follower.stdout is not None and follower.stdout.readline() == "up\n"  # it is following
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=60)
        followed = long[:8] if argv[0] == "logs" else err.split("stopped following run ")[1].split(";")[0]
        assert follower.returncode == 130, err
        assert f"stopped following run {followed}; the run goes on" in err, err
        assert f"kiln logs {followed} -f" in err and f"kiln cancel {followed}" in err and "Traceback" not in err
        assert str(cluster.admin.get_run(followed).state) == "running"
        kcli.ok("cancel", followed)
    assert cluster.wait_run(long).state == "cancelled"


def test_sizes_in_refusals_are_in_human_units(cluster, kcli, tmp_path, monkeypatch):
    cluster.agent("n1", cpus=2)
    _work(tmp_path, monkeypatch, {})
    refused = kcli("run", "-p", "p", "--memory", "4T", "--", "true")
    assert refused.code == 1 and "4.0 TiB of memory asked" in refused.err and "GiB there" in refused.err
    assert "bytes" not in refused.err


def test_coordinator_fingerprint_finds_the_data_of_kiln_up(tmp_path, monkeypatch):
    proc, lines = start_up(tmp_path, "127.0.0.1:0")
    try:
        shown = next(line.split(": ", 1)[1] for line in lines if line.startswith("CA fingerprint:"))
        given = kiln(tmp_path, "coordinator", "fingerprint", "--data", str(tmp_path / "data"))
        assert given.returncode == 0 and given.stdout.strip() == shown, given.stderr
        monkeypatch.setenv("KILN_DATA", str(tmp_path / "data"))  # where kiln up put it, as its default
        default = kiln(tmp_path, "coordinator", "fingerprint")
        assert default.returncode == 0 and default.stdout.strip() == shown, default.stderr
    finally:
        stop(proc)
    empty = kiln(tmp_path, "coordinator", "fingerprint", "--data", str(tmp_path / "nothing"))
    assert empty.returncode == 1 and "holds no coordinator CA" in empty.stderr and "--data DIR" in empty.stderr


def test_rerun_of_a_container_run_uses_the_same_image_and_runtime(cluster, kcli, tmp_path, monkeypatch, docker_ready):
    cluster.agent("d1", runtimes=("docker", "process"))
    _work(tmp_path, monkeypatch, {"msg.txt": "from the snapshot\n"})
    first = _finished(cluster, kcli, "--image", BUSYBOX, "-e", "WHO=box", "--", "sh", "-c", "cat msg.txt; echo $WHO")
    again = json.loads(kcli.ok("rerun", first["id"], "--json"))
    assert again["state"] == "queued" and again["rerun_of"] == first["id"]
    done = cluster.wait_run(again["id"])
    assert str(done.state) == "succeeded" and done.runtime == "docker" and done.spec.image == BUSYBOX
    assert cluster.output(again["id"]) == cluster.output(first["id"]) == "from the snapshot\nbox\n"
