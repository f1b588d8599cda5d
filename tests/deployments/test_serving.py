"""Serving end to end: a model trained by a real run, deployed, its replica started by a real agent, called
through the coordinator's real gateway over TLS by a real HTTP client, every answer in the ledger and
traceable to the run, data and environment that made the model."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading

import numpy as np
import pytest

from kiln.core.deployments import MODEL_VERSION_HEADER, PREDICTION_ID_HEADER, Split
from tests.conftest import wait_until
from tests.deployments.conftest import Served

ROWS = np.random.default_rng(7).normal(size=(5, 10)).round(4).tolist()


def test_a_deployed_model_answers_mlflow_formats_and_every_answer_is_traceable(served: Served) -> None:
    v1 = served.train(1)
    served.deploy("churn", version=v1)
    served.ready("churn", (v1,))
    with served.http() as http:
        answers = [
            http.post("/endpoints/churn/invocations", json={"inputs": ROWS}),
            http.post("/endpoints/churn/invocations", json={"instances": ROWS}),
            http.post(
                "/endpoints/churn/invocations",
                json={"dataframe_split": {"columns": [f"x{i}" for i in range(10)], "data": ROWS}},
            ),
        ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    predictions = [a.json()["predictions"] for a in answers]
    assert predictions[0] == predictions[1] == predictions[2] and len(predictions[0]) == 5
    assert all(a.headers[MODEL_VERSION_HEADER] == str(v1) for a in answers)
    ids = [a.headers[PREDICTION_ID_HEADER] for a in answers]
    assert len(set(ids)) == 3

    admin = served.cluster.admin
    wait_until(lambda: set(ids) <= {p.record.id for p in admin.list_predictions("churn")}, 10, "the ledger")
    one = admin.get_prediction(ids[0])
    trained = admin.get_model("p", "clf").versions[0]
    assert (one.model, one.record.version, one.model_run) == ("clf", v1, trained.run_id)
    assert one.snapshot == admin.get_run(trained.run_id).spec.snapshot
    assert json.loads(one.record.response)["predictions"] == predictions[0]
    assert one.record.replica in {r.run_id for r in admin.get_deployment("churn").replica_list}
    assert one.record.caller == "admin" and one.record.status == 200

    joined, unknown = admin.add_feedback("churn", [(ids[0], json.dumps(predictions[0])), ("p-nope", "1")])
    assert (joined, unknown) == (1, ["p-nope"])
    assert admin.get_prediction(ids[0]).label == json.dumps(predictions[0])


def test_callers_without_the_right_token_are_refused_and_nothing_reaches_a_replica(served: Served) -> None:
    served.train(1)
    served.deploy("a", version=1)
    served.deploy("b", version=1)
    served.ready("a", (1,))
    admin = served.cluster.admin
    for_b = admin.create_endpoint_token("b", "app").secret
    for_a = admin.create_endpoint_token("a", "app").secret
    with served.http("") as http:
        none = http.post("/endpoints/a/invocations", json={"inputs": ROWS})
        wrong = http.post(
            "/endpoints/a/invocations", json={"inputs": ROWS}, headers={"Authorization": f"Bearer {for_b}"}
        )
        made_up = http.post("/endpoints/a/invocations", json={"inputs": ROWS}, headers={"Authorization": "Bearer x"})
        right = http.post(
            "/endpoints/a/invocations", json={"inputs": ROWS}, headers={"Authorization": f"Bearer {for_a}"}
        )
    assert (none.status_code, wrong.status_code, made_up.status_code, right.status_code) == (401, 403, 401, 200)
    assert "for endpoint 'b'" in wrong.json()["message"]
    with pytest.raises(Exception, match="not known"):  # an endpoint token opens nothing of the API
        from kiln.client import Client

        with Client(served.cluster.coordinator.address, served.cluster.coordinator.ctx.tls.ca_pem, for_a) as c:
            c.list_deployments()
    callers = lambda: [p.record.caller for p in admin.list_predictions("a")]  # noqa: E731
    wait_until(lambda: "token:app" in callers(), 10, "the answered request in the ledger")
    assert callers().count("token:app") == 1


def test_bad_payloads_get_a_clear_4xx_and_the_replica_keeps_serving(served: Served) -> None:
    served.train(1)
    served.deploy("ep", version=1)
    served.ready("ep", (1,))
    with served.http() as http:
        bad = {
            "not json": http.post(
                "/endpoints/ep/invocations", content=b"{nope", headers={"Content-Type": "application/json"}
            ),
            "9 features": http.post("/endpoints/ep/invocations", json={"inputs": [r[:9] for r in ROWS]}),
            "no format": http.post("/endpoints/ep/invocations", json={"rows": ROWS}),
            "too large": http.post("/endpoints/ep/invocations", content=b"x" * (9 * 1024 * 1024)),
            "no such endpoint": http.post("/endpoints/nope/invocations", json={"inputs": ROWS}),
        }
        after = http.post("/endpoints/ep/invocations", json={"inputs": ROWS})
    statuses = {k: v.status_code for k, v in bad.items()}
    assert statuses == {"not json": 400, "9 features": 400, "no format": 400, "too large": 413, "no such endpoint": 404}
    assert all(v.json()["message"] for v in bad.values())
    assert "10" in bad["9 features"].json()["message"]
    assert after.status_code == 200


def test_a_version_switch_under_steady_load_fails_no_request(served: Served) -> None:
    v1, v2 = served.train(1), served.train(2)
    served.deploy("roll", version=v1)
    served.ready("roll", (v1,))
    token = served.token
    seen: dict[str, int] = {}
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with served.http(token) as http:
            while not stop.is_set():
                r = http.post("/endpoints/roll/invocations", json={"inputs": ROWS[:1]})
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")
                else:
                    version = r.headers[MODEL_VERSION_HEADER]
                    seen[version] = seen.get(version, 0) + 1

    workers = [threading.Thread(target=load) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        wait_until(lambda: seen.get(str(v1), 0) > 20, 30, "load on version 1")
        served.cluster.admin.set_traffic("roll", (Split(v2, 100),))
        served.ready("roll", (v2,))
        wait_until(lambda: seen.get(str(v2), 0) > 20, 30, "load on version 2")
        wait_until(
            lambda: all(r.version == v2 for r in served.cluster.admin.get_deployment("roll").replica_list),
            30,
            "version 1's replica to be stopped",
        )
        before = seen.get(str(v2), 0)
        wait_until(lambda: seen.get(str(v2), 0) > before + 20, 30, "load after version 1 is gone")
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    assert failures == [], failures[:3]
    events = [e.state for e in served.cluster.admin.get_deployment("roll").events]
    assert events.count("serving") == 2 and "traffic" in events


def _replica_pid(run_id: str) -> int:
    """The replica's own process (kiln.serve), found by its run's id in its environment."""
    import psutil

    for p in psutil.process_iter(["cmdline", "environ"]):
        with contextlib.suppress(psutil.Error):
            cmd = p.info["cmdline"] or []
            if "kiln.serve" in cmd and (p.info["environ"] or {}).get("KILN_RUN_ID") == run_id:
                return int(p.pid)
    raise AssertionError(f"no kiln.serve process of {run_id}")


def test_a_replica_killed_under_load_is_replaced_and_the_ledger_keeps_every_answer(served: Served) -> None:
    served.train(1)
    served.deploy("hard", version=1, replicas=2)
    d = served.ready("hard", (1,))
    wait_until(
        lambda: sum(r.ready for r in served.cluster.admin.get_deployment("hard").replica_list) == 2, 60, "2 ready"
    )
    answered: list[str] = []
    refused: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with served.http() as http:
            while not stop.is_set():
                r = http.post("/endpoints/hard/invocations", json={"inputs": ROWS[:1]})
                (answered if r.status_code == 200 else refused).append(  # type: ignore[attr-defined]
                    r.headers[PREDICTION_ID_HEADER] if r.status_code == 200 else (r.status_code, r.json()["message"])
                )

    workers = [threading.Thread(target=load) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        wait_until(lambda: len(answered) > 50, 30, "load")
        victim = served.cluster.admin.get_deployment("hard").replica_list[0].run_id
        os.kill(_replica_pid(victim), signal.SIGKILL)
        wait_until(
            lambda: (
                (now := served.cluster.admin.get_deployment("hard"))
                and sum(r.ready for r in now.replica_list) == 2
                and victim not in {r.run_id for r in now.replica_list}
            ),
            60,
            "a replacement replica",
        )
        count = len(answered)
        wait_until(lambda: len(answered) > count + 50, 30, "load on the replacement")
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    assert all(status == 503 and "retry" in message for status, message in refused), refused[:3]
    admin = served.cluster.admin
    assert str(admin.get_run(victim).state) == "failed"
    wait_until(
        lambda: set(answered) <= {p.record.id for p in admin.list_predictions("hard", limit=0, bodies=False)},
        20,
        "every answered request in the ledger",
    )
    events = admin.get_deployment("hard").events
    assert any(e.state == "replica" and victim in e.cause for e in events), events
    assert d.replicas == 2


def test_draining_a_node_moves_its_replicas_before_they_stop(served: Served) -> None:
    served.train(1)
    served.deploy("moving", version=1)
    d = served.ready("moving", (1,))
    assert d.replica_list[0].node == "n1"
    served.cluster.agent("n2", cpus=8)
    served.cluster.admin.set_drain("n1", True)

    def moved() -> bool:
        now = served.cluster.admin.get_deployment("moving").replica_list
        return [(r.node, r.ready) for r in now] == [("n2", True)]

    wait_until(moved, 60, "the replica to move to n2")
    served.ready("moving", (1,))  # and the gateway routes to it
    with served.http() as http:
        assert http.post("/endpoints/moving/invocations", json={"inputs": ROWS}).status_code == 200
    assert str(served.cluster.admin.get_run(d.replica_list[0].run_id).state) == "cancelled"


def test_a_lost_node_s_replicas_are_replaced_on_another(served: Served) -> None:
    served.train(1)
    served.deploy("survivor", version=1)
    d = served.ready("survivor", (1,))
    served.cluster.agent("n2", cpus=8)
    served.cluster.agents[0].stop()  # n1 goes silent: past the grace period its runs are lost

    def replaced() -> bool:
        now = served.cluster.admin.get_deployment("survivor").replica_list
        return [(r.node, r.ready) for r in now] == [("n2", True)]

    wait_until(replaced, 60, "a replica on n2")
    assert str(served.cluster.admin.get_run(d.replica_list[0].run_id).state) == "lost"
    served.ready("survivor", (1,))
    with served.http() as http:
        assert http.post("/endpoints/survivor/invocations", json={"inputs": ROWS}).status_code == 200
