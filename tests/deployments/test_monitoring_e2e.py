"""Monitoring end to end: a model trained by a real run from a dataset version, served by a real replica
behind the real gateway, called over HTTPS by a real client; its monitor freezes the reference from the
training run's dataset by itself, an unshifted stream raises nothing and a shifted one raises a drift alert
that the coordinator's own watch mails to a real SMTP server on loopback; a retraining schedule on that
alert fires a run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiln.core.runs import Resources, RunSpec
from tests.conftest import wait_until
from tests.deployments.conftest import Served, serving_cluster
from tests.smtp import Inbox, LoopbackController

TRAIN = """\
import csv, os
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
rows = list(csv.DictReader(open(os.path.join(os.environ["KILN_DATASET_CUSTOMERS"], "customers.csv"))))
X = np.array([[float(r[f"x{i}"]) for i in range(4)] for r in rows])
y = np.array([int(r["churned"]) for r in rows])
os.makedirs("model", exist_ok=True)
joblib.dump(LogisticRegression().fit(X, y), "model/model.joblib")
"""


@pytest.fixture
def inbox() -> Iterator[tuple[int, Inbox]]:
    box = Inbox()
    controller = LoopbackController(box, hostname="127.0.0.1", port=0)
    controller.start()
    yield controller.port, box
    controller.stop()


def test_drift_through_the_gateway_is_mailed_and_fires_a_retraining_run(
    tmp_path: Path, inbox: tuple[int, Inbox]
) -> None:
    port, box = inbox
    with serving_cluster(tmp_path) as served:
        admin = served.cluster.admin
        rng = np.random.default_rng(0)
        x = rng.normal(size=(1500, 4))
        lines = ["x0,x1,x2,x3,churned"] + [",".join(f"{v:.5f}" for v in r) + f",{int(r[0] + r[1] > 0)}" for r in x]
        data = _folder(served, {"customers.csv": "\n".join(lines) + "\n"})
        admin.add_dataset_version("p", "customers", data)
        code = _folder(served, {"train.py": TRAIN})
        spec = RunSpec("p", (sys.executable, "train.py"), code, runtime="process", resources=Resources(0.5),
                       datasets=("customers",))  # fmt: skip
        run = served.cluster.wait_run(admin.submit_run(spec).id)
        assert str(run.state) == "succeeded", served.cluster.output(run.id)
        version = admin.register_model(run.id, "model", "clf").version
        for name in ("calm", "drifty"):
            served.deploy(name, version)
        for name in ("calm", "drifty"):
            served.ready(name, (version,))
        channel = {"smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_tls": "none",
                   "sender": "kiln@example.com", "to": "oncall@example.com"}  # fmt: skip
        admin.add_channel("p", "oncall", "email", channel)
        for name in ("calm", "drifty"):
            m = admin.create_monitor("p", f"{name}-watch", name, target="churned", every="1h")
            assert m.config["reference_sources"] == {str(version): "dataset:p/customers@1"}  # from the training run
        admin.create_schedule("p", "retrain", spec, on="alert:drifty-watch")

        with served.http() as http:
            for name, shift in (("calm", 0.0), ("drifty", 1.5)):
                rows = (rng.normal(size=(150, 4)) + shift).round(5).tolist()
                for i in range(0, 150, 5):  # `inputs` as lists: read by position as the reference's features
                    r = http.post(f"/endpoints/{name}/invocations", json={"inputs": rows[i : i + 5]})
                    assert r.status_code == 200, r.text
        for name in ("calm", "drifty"):
            wait_until(lambda n=name: len(admin.list_predictions(n, since=0)) >= 30, 30, f"{name}'s ledger")

        calm = admin.run_monitor("p", "calm-watch")
        assert calm.requests == 30 and not calm.drifted
        drifty = admin.run_monitor("p", "drifty-watch")
        assert drifty.drifted and {c["column"] for c in drifty.result["drift"]["columns"]} == {"x0", "x1", "x2", "x3"}
        (alert,) = admin.list_alerts("p", state="firing")
        assert alert.rule == "drift" and "drifty" in alert.title

        wait_until(lambda: box.envelopes, 30, "the alert's mail")  # sent by the coordinator's own watch
        mail = box.message(0)
        assert "Data drift on endpoint drifty" in str(mail["Subject"]) and box.envelopes[0].rcpt_tos == [
            "oncall@example.com"
        ]
        retrain = wait_until(lambda: admin.get_schedule("p", "retrain").fires, 30, "the retraining run")
        assert retrain[0].outcome == "fired" and alert.id in retrain[0].reason
        # the recipe's second half: the retrained model reaches production only through its approvals
        retrained = served.cluster.wait_run(retrain[0].run_id)
        assert str(retrained.state) == "succeeded", served.cluster.output(retrained.id)
        new = admin.register_model(retrained.id, "model", "clf").version
        admin.set_policy("p", 1)
        asked = admin.request_alias("p", "clf", new, "production", "retrained on drift")
        assert asked.state == "open" and admin.get_model("p", "clf").aliases.get("production") != new

        # a monitor of batch scorings: the scored input drifted, judged against the same frozen reference
        shifted = (rng.normal(size=(300, 4)) + 2.0).round(5)
        batch = "x0,x1,x2,x3\n" + "\n".join(",".join(f"{v:.5f}" for v in r) for r in shifted) + "\n"
        admin.add_dataset_version("p", "incoming", _folder(served, {"incoming.csv": batch}))
        scored = admin.score_batch("p", "clf", version, "incoming:1", "scores", Resources(0.5))
        assert str(served.cluster.wait_run(scored.id).state) == "succeeded", served.cluster.output(scored.id)
        wait_until(lambda: any(d.name == "scores" for d in admin.list_datasets("p")), 30, "the scores dataset")
        admin.create_monitor("p", "scores-watch", scoring="scores", target="churned", every="1h")
        judged = admin.run_monitor("p", "scores-watch")
        assert judged.drifted and judged.requests == 300 and judged.result["input"] == "incoming:1"


def _folder(served: Served, files: dict[str, str]) -> str:
    from tests.compute.conftest import push_folder

    return push_folder(served.cluster, files)
