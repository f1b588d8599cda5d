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
    assert compared[0]["params"] == {"lr": "0.1"} and "dataset:p/rows@1" in compared[0]["inputs"]
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
    assert [json.loads(line)["eventType"] for line in out.read_text().splitlines()] == ["START", "COMPLETE"]
    history = json.loads(kcli.ok("model", "history", "churn", "--json"))
    assert history == []
    assert "not a time" in kcli("model", "history", "churn", "--at", "yesterday").err
