"""The tracking, dataset, model, comment and lineage commands of `kiln`."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import Cli

TRAIN = (
    "import kiln.track as kt, os\nkt.log_param('lr', 0.1)\nfor i in range(20): kt.log_metric('loss', 1/(i+1))\n"
    "os.makedirs('model', exist_ok=True)\nopen('model/w', 'w').write('w')\n"
)


@pytest.fixture
def kcli(cluster, tmp_path, capsys, monkeypatch) -> Cli:
    cli = Cli(tmp_path / "home", capsys, monkeypatch).sign_in(cluster.coordinator)
    cluster.agent("n1")
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(TRAIN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a\n")
    monkeypatch.chdir(work)
    monkeypatch.setenv("KILN_PROJECT", "p")
    return cli


def test_a_session_from_dataset_to_production(cluster, kcli, tmp_path):
    ds = json.loads(kcli.ok("dataset", "create", "rows", str(tmp_path / "data"), "--json"))
    assert ds["id"] == "dataset:p/rows@1"
    assert [d["name"] for d in json.loads(kcli.ok("datasets", "--json"))] == ["rows"]
    run = json.loads(kcli.ok("run", "--dataset", "rows", "--follow", "--json", "--", sys.executable, "train.py"))
    assert run["state"] == "succeeded"
    metrics = json.loads(kcli.ok("metrics", run["id"], "--json", "--max-points", "5"))
    assert metrics[0]["key"] == "loss" and metrics[0]["total_points"] == 20 and len(metrics[0]["points"]) <= 5
    found = json.loads(kcli.ok("runs", "--filter", "params.lr >= 0.1", "--sort", "-metrics.loss", "--json"))
    assert [r["id"] for r in found] == [run["id"]]
    compared = json.loads(kcli.ok("compare", run["id"], run["id"], "--json"))
    assert compared["runs"][0]["params"] == {"lr": "0.1"} and "dataset:p/rows@1" in compared["runs"][0]["inputs"]
    assert compared["differing"] == []  # a run compared with itself
    version = json.loads(kcli.ok("model", "register", run["id"], "model", "--name", "churn", "--json"))
    assert version["version"] == 1
    kcli.ok("project", "validator", "p", "admin")
    kcli.ok("user", "create", "val", "--password-stdin", stdin="val-password\n")
    kcli.ok("project", "add-member", "p", "val", "--role", "editor")
    kcli.ok("project", "validator", "p", "val")
    request = json.loads(kcli.ok("model", "request", "churn", "1", "--alias", "production", "--json"))
    assert request["state"] == "open"
    assert "cannot review their own" in kcli("model", "review", "churn", "1", "--approve").err
    shown = json.loads(kcli.ok("model", "show", "churn", "--json"))
    assert shown["aliases"] == {} and shown["requests"][0]["state"] == "open"
    kcli.ok("comment", "model:p/churn@1", "-m", "waiting for val")
    assert json.loads(kcli.ok("comments", "model:p/churn@1", "--json"))[0]["text"] == "waiting for val"
    graph = json.loads(kcli.ok("lineage", run["id"], "--json"))
    assert {"src": "dataset:p/rows@1", "dst": f"run:{run['id']}", "relation": "input"} in graph["edges"]
    dot = kcli.ok("lineage", run["id"], "--dot")
    assert dot.startswith("digraph lineage {") and f'"run:{run["id"]}" [label=' in dot
    out = tmp_path / "ol.jsonl"
    kcli.ok("lineage", "export", "--openlineage", str(out))
    assert [json.loads(line)["eventType"] for line in out.read_text().splitlines()][:2] == ["START", "COMPLETE"]
    history = json.loads(kcli.ok("model", "history", "churn", "--json"))
    assert history == []
    assert "not a time" in kcli("model", "history", "churn", "--at", "yesterday").err


SWEEP = "import kiln.track as kt, sys\nkt.log_param('lr', sys.argv[1])\nkt.log_metric('acc', float(sys.argv[2]))\n"


def _sweep(cluster, kcli) -> dict[str, str]:
    """Three finished runs: lr -> run id."""
    import pathlib

    pathlib.Path("sweep.py").write_text(SWEEP)
    ids = {}
    for lr, acc in (("0.1", "0.7"), ("0.01", "0.9"), ("0.001", "0.8")):
        ids[lr] = kcli.ok("run", "--", sys.executable, "sweep.py", lr, acc).strip()
    for run_id in ids.values():
        cluster.wait_run(run_id)
    return ids


def test_runs_shows_params_and_metrics_as_columns(cluster, kcli):
    ids = _sweep(cluster, kcli)
    listed = json.loads(kcli.ok("runs", "--columns", "params.lr,metrics.acc,tags.none", "--json"))
    assert {r["id"]: r["columns"] for r in listed} == {
        ids[lr]: {"params.lr": lr, "metrics.acc": acc, "tags.none": None}
        for lr, acc in (("0.1", 0.7), ("0.01", 0.9), ("0.001", 0.8))
    }
    table = kcli.ok("runs", "--columns", "params.lr").splitlines()
    assert "PARAMS.LR" in table[0].split() and any("0.001" in line.split() for line in table[1:])
    best = kcli.ok("runs", "--sort", "-metrics.acc").splitlines()  # the sort key is shown without asking
    assert "METRICS.ACC" in best[0].split()
    assert [line.split()[0] for line in best[1:]] == [ids["0.01"], ids["0.001"], ids["0.1"]]
    assert "0.9" in best[1].split() and "0.7" in best[3].split()
    filtered = json.loads(kcli.ok("runs", "--filter", "params.lr < 0.05", "--columns", "metrics.acc", "--json"))
    assert sorted(r["columns"]["metrics.acc"] for r in filtered) == [0.8, 0.9]
    assert "columns" not in json.loads(kcli.ok("runs", "--json"))[0]  # none asked for, none given
    bad = kcli("runs", "--columns", "state")
    assert bad.code == 1 and "columns are params.NAME, metrics.NAME or tags.NAME" in bad.err
    assert bad.err.count("\n") == 1


def test_compare_marks_what_differs_and_can_show_only_that(cluster, kcli):
    ids = _sweep(cluster, kcli)
    a, b = ids["0.1"], ids["0.01"]
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in
            kcli.ok("compare", a, b).splitlines()[1:]}  # fmt: skip
    assert rows["params.lr"].startswith("*") and rows["metrics.acc"].startswith("*")
    assert not rows["state"].startswith("*") and not rows["snapshot"].startswith("*")
    only = [line.split()[1] for line in kcli.ok("compare", a, b, "--only-differences").splitlines()[1:]]
    assert "params.lr" in only and "metrics.acc" in only and "state" not in only and "snapshot" not in only
    data = json.loads(kcli.ok("compare", a, b, "--diff", "--json"))
    assert [r["id"] for r in data["runs"]] == [a, b] and all(r["differs"] for r in data["rows"])
    assert {"params.lr", "metrics.acc", "command"} <= set(data["differing"])


def test_model_register_takes_the_project_like_every_model_command(cluster, kcli):
    run = json.loads(kcli.ok("run", "--follow", "--json", "--", sys.executable, "train.py"))
    registered = json.loads(kcli.ok("model", "register", run["id"], "model", "--name", "m", "-p", "p", "--json"))
    assert registered["version"] == 1
    assert json.loads(kcli.ok("model", "list", "-p", "p", "--json"))[0]["name"] == "m"
    cluster.admin.create_project("other")
    wrong = kcli("model", "register", run["id"], "model", "--name", "m", "-p", "other")
    assert wrong.code == 1 and "is in project 'p', not 'other'" in wrong.err and "pass -p p" in wrong.err
    assert json.loads(kcli.ok("model", "list", "-p", "other", "--json")) == []
