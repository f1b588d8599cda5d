"""The deployment commands as a person types them: `kiln deploy …`, `predictions`, `prediction`, `feedback`
and `score`, each with --json, against a real cluster and its gateway."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from kiln.core.deployments import PREDICTION_ID_HEADER
from tests.conftest import Cli, wait_until
from tests.deployments.conftest import Served


@pytest.fixture
def kcli(served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(tmp_path / "home", capsys, monkeypatch).sign_in(served.cluster.coordinator)


def test_deploy_call_trace_and_label_from_the_command_line(served: Served, kcli: Cli, tmp_path: Path) -> None:
    served.train(1)
    made = json.loads(
        kcli.ok("deploy", "create", "churn", "-p", "p", "--model", "clf", "--version", "1", "--cpus", "0.25", "--json")
    )
    assert (made["name"], made["state"], made["traffic"]) == (
        "churn",
        "active",
        [{"version": 1, "weight": 100, "shadow": False}],
    )
    served.ready("churn", (1,))
    listed = json.loads(kcli.ok("deploy", "list", "--json"))
    assert [d["name"] for d in listed] == ["churn"] and listed[0]["url"] == made["url"]
    table = kcli.ok("deploy", "list")
    assert "churn" in table and "v1 100%" in table and "1/1" in table

    secret = kcli.ok("deploy", "token", "churn", "--token-name", "crm").strip()
    assert secret.startswith("kiln_ep_")
    with served.http(secret) as http:
        ids = [
            http.post("/endpoints/churn/invocations", json={"inputs": [[0.1 * i] * 10]}).headers[PREDICTION_ID_HEADER]
            for i in range(3)
        ]
    wait_until(
        lambda: set(ids) <= {p["record"]["id"] for p in json.loads(kcli.ok("predictions", "churn", "--json"))},
        10,
        "ledger",
    )
    rows = json.loads(kcli.ok("predictions", "churn", "--json", "--bodies"))
    one = next(r for r in rows if r["record"]["id"] == ids[0])
    assert json.loads(one["record"]["request"]) == {"inputs": [[0.0] * 10]} and one["record"]["caller"] == "token:crm"
    traced = json.loads(kcli.ok("prediction", ids[0], "--json"))
    assert traced["model"] == "clf" and traced["model_run"].startswith("r-") and traced["snapshot"]
    shown = kcli.ok("prediction", ids[0])
    assert "kiln lineage model:p/clf@1" in shown and "token:crm" in shown

    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prediction_id", "label"])
        for i in ids:
            w.writerow([i, "[0]"])
        w.writerow(["p-unknown", "1"])
    result = kcli("feedback", "churn", str(labels))
    assert result.code == 1 and "3 of 4 labels joined" in result.out and "p-unknown" in result.out
    card = json.loads(kcli.ok("deploy", "show", "churn", "--json"))["cards"][0]
    assert card["version"] == 1 and card["labelled"] == 3 and card["requests"] >= 3
    shown = kcli.ok("deploy", "show", "churn")
    assert "REPLICA" in shown and "ACCURACY" in shown and "created" in shown

    assert json.loads(kcli.ok("deploy", "scale", "churn", "2", "--json"))["replicas"] == 2
    assert "stopped" in kcli.ok("deploy", "stop", "churn")


def test_the_commands_say_what_is_wrong(served: Served, kcli: Cli, tmp_path: Path) -> None:
    served.train(1)
    bad = kcli("deploy", "create", "x", "-p", "p", "--model", "clf", "--version", "7")
    assert bad.code != 0 and "has no version 7" in bad.err
    kcli.ok("deploy", "create", "x", "-p", "p", "--model", "clf", "--version", "1", "--cpus", "0.25")
    split = kcli("deploy", "traffic", "x", "--split", "1=50")
    assert split.code != 0 and "add up to 50" in split.err
    garbled = kcli("deploy", "traffic", "x", "--split", "one=100")
    assert garbled.code != 0 and "VERSION=WEIGHT" in garbled.err
    nofile = tmp_path / "empty.csv"
    nofile.write_text("id,value\n")
    wrong = kcli("feedback", "x", str(nofile))
    assert wrong.code != 0 and "prediction_id and label" in wrong.err
    score = kcli("score", "clf", "--input", "d", "-p", "p")
    assert score.code != 0 and "MODEL:VERSION" in score.err
