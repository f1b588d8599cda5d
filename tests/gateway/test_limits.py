"""Bounded input: request bodies past MAX_BODY_BYTES are refused (by their Content-Length before a byte
is read, or cut off when they stream without one), and feedback is checked row by row."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.core.deployments import MAX_BODY_BYTES
from tests.conftest import wait_until

from .conftest import TOKEN, Answer, Caller, MakeReplica, StartGateway, endpoint, table, version


def test_oversized_body_is_413_and_never_reaches_a_replica(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    answer = c.invoke("iris", b"x" * (MAX_BODY_BYTES + 1))
    assert answer.status == 413 and answer.pid
    assert answer.json()["error_code"] == "REQUEST_TOO_LARGE"
    c.close()  # the gateway may close a connection whose body it did not read: a new one
    c = gw.caller()
    fits = c.invoke("iris", b"x" * MAX_BODY_BYTES)
    assert fits.status == 200
    c.close()
    assert [len(b) for b in a.bodies] == [MAX_BODY_BYTES]


def test_streamed_body_is_cut_off_at_the_cap(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    chunk = b"y" * (1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk

    conn.request(
        "POST",
        "/endpoints/iris/invocations",
        body=chunks(),
        encode_chunked=True,
        headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"},
    )
    answer = conn.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read())["error_code"] == "REQUEST_TOO_LARGE"
    conn.close()
    assert a.bodies == []


def test_refusals_after_sign_in_are_kept_in_the_ledger(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a), sample_rate=0.0)))
    c = gw.caller()
    big = c.invoke("iris", b"x" * (MAX_BODY_BYTES + 1))
    ok = c.invoke("iris")
    wait_until(lambda: big.pid in backend.records, what="the 413's record")
    record = backend.records[big.pid]
    assert (record.status, record.caller, record.error) == (413, "alice", "request too large")
    assert ok.pid not in backend.records  # sample rate 0: successes are not kept
    c.close()


def _feedback(c: Caller, doc: object, name: str = "iris") -> Answer:
    return c.request(
        "POST",
        f"/endpoints/{name}/feedback",
        json.dumps(doc).encode(),
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )


def test_feedback_joins_labels_by_prediction_id(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    ids = [c.invoke("iris").pid for _ in range(3)]
    wait_until(lambda: set(ids) <= set(backend.records), what="the predictions' records")
    one = _feedback(c, {"prediction_id": ids[0], "label": "setosa"})
    assert (one.status, one.json()) == (200, {"joined": 1})
    many = _feedback(
        c,
        {
            "labels": [
                {"prediction_id": ids[1], "label": 3.5},
                {"prediction_id": ids[2], "label": [1]},
                {"prediction_id": "p-unknown", "label": "x"},
            ]
        },
    )
    assert (many.status, many.json()) == (200, {"joined": 2})
    assert backend.labels == {ids[0]: "setosa", ids[1]: "3.5", ids[2]: "[1]"}
    assert c.request("POST", "/endpoints/iris/feedback", b"{}").status == 401
    c.close()


def test_feedback_is_bounded(start_gateway: StartGateway) -> None:
    gw = start_gateway(table())
    c = gw.caller()
    too_many = _feedback(c, {"labels": [{"prediction_id": "p-1", "label": 1}] * 10_001})
    assert too_many.status == 400 and "at most 10000" in too_many.json()["message"]
    too_long = _feedback(c, {"prediction_id": "p-1", "label": "z" * 1100})
    assert too_long.status == 400 and "longer than 1024 bytes" in too_long.json()["message"]
    no_id = _feedback(c, {"label": "z"})
    assert no_id.status == 400 and no_id.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    not_json = c.request("POST", "/endpoints/iris/feedback", b"{nope", {"Authorization": f"Bearer {TOKEN}"})
    assert not_json.status == 400 and "not JSON" in not_json.json()["message"]
    c.close()


def test_feedback_the_backend_refuses_says_why(start_gateway: StartGateway, backend: StaticBackend) -> None:
    async def refuse(endpoint: str, caller_token: str, rows: list[tuple[str, str]]) -> int:
        raise ValueError("prediction p-1 is not one of endpoint iris")

    async def forbid(endpoint: str, caller_token: str, rows: list[tuple[str, str]]) -> int:
        raise PermissionError("alice may read endpoint iris but not label it")

    gw = start_gateway(table())
    c = gw.caller()
    backend.feedback = refuse  # type: ignore[method-assign]
    refused = _feedback(c, {"prediction_id": "p-1", "label": 1})
    assert (refused.status, refused.json()["message"]) == (400, "prediction p-1 is not one of endpoint iris")
    backend.feedback = forbid  # type: ignore[method-assign]
    assert _feedback(c, {"prediction_id": "p-1", "label": 1}).status == 403
    c.close()
