"""The compute commands of `kiln` against a real cluster."""

from __future__ import annotations

import json

import pytest

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
        kcli.ok(
            "run", "-p", "p", "--json", "-e", "GREETING=hi", "--", "sh", "-c", "echo $GREETING; cat data.txt"
        )
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
    assert "KEY=VALUE" in kcli("run", "-p", "p", "-e", "oops", "--", "true").err
    refused = kcli("run", "-p", "p", "--gpus", "8", "--", "true")
    assert refused.code == 1 and "no nodes are registered" in refused.err
    assert kcli("run", "show", "r-nope").code == 1
