"""Routing: versions by weight (the shared pick function, driven bucket by bucket), sticky callers,
replicas in turn, retries past a replica that cannot be reached, 503 when none can, and a new route table
taking effect without a restart."""

from __future__ import annotations

import itertools
from collections import Counter

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.core.deployments import ReplicaRoute, pick_version, sticky_bucket
from tests.conftest import wait_until

from .conftest import MakeReplica, StartGateway, closed_address, endpoint, table, version


def test_weights_route_each_bucket_by_pick_version(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    v1, v2 = replicas("v1"), replicas("v2")
    buckets = itertools.cycle(range(100))
    iris = endpoint("iris", version(1, 90, v1), version(2, 10, v2))
    gw = start_gateway(table(iris), bucket=lambda: next(buckets))
    c = gw.caller()
    got = [c.invoke("iris").version for _ in range(200)]
    assert got == [str(pick_version(iris.versions, b % 100)) for b in range(200)]
    assert Counter(got) == {"1": 180, "2": 20}
    assert (len(v1.bodies), len(v2.bodies)) == (180, 20)
    c.close()


def test_random_buckets_share_traffic_by_weight(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    v1, v2 = replicas("v1"), replicas("v2")
    gw = start_gateway(table(endpoint("iris", version(1, 90, v1), version(2, 10, v2), sample_rate=0.0)))
    c = gw.caller()
    seen = Counter(c.invoke("iris").version for _ in range(1000))
    assert 50 <= seen["2"] <= 150, seen  # 10% of 1000 is 100, with a standard deviation of 9.5
    c.close()


def test_sticky_header_always_lands_on_one_version(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    v1, v2 = replicas("v1"), replicas("v2")
    iris = endpoint("iris", version(1, 50, v1), version(2, 50, v2), sticky="X-Customer")
    gw = start_gateway(table(iris))
    c = gw.caller()
    for customer in ("alice", "bob", "carol", "dave", "erin"):
        expected = str(pick_version(iris.versions, sticky_bucket(customer)))
        got = {c.invoke("iris", headers={"X-Customer": customer}).version for _ in range(20)}
        assert got == {expected}, customer
    c.close()


def test_replicas_of_a_version_take_turns(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a, b = replicas("a"), replicas("b")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a, b))))
    c = gw.caller()
    names = [c.invoke("iris").json()["replica"] for _ in range(10)]
    assert Counter(names) == {"a": 5, "b": 5}
    c.close()


def test_body_and_content_type_pass_unchanged(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    body = b"a,b\n1,2\n"
    answer = c.invoke("iris", body, headers={"Content-Type": "text/csv"})
    assert answer.status == 200
    assert (a.bodies, a.content_types) == ([body], ["text/csv"])
    c.close()


def test_unreachable_replica_is_retried_on_another_and_left_out(
    replicas: MakeReplica, start_gateway: StartGateway
) -> None:
    live = replicas("live")
    dead = ReplicaRoute("run-dead", "node-2", closed_address())
    gw = start_gateway(table(endpoint("iris", version(1, 100, dead, live.route()))))
    c = gw.caller()
    for _ in range(6):
        answer = c.invoke("iris")
        assert answer.status == 200 and answer.json()["replica"] == "live"
        assert answer.version == "1"
    assert len(live.bodies) == 6
    c.close()


def test_a_version_with_no_live_replica_falls_back_to_another(
    replicas: MakeReplica, start_gateway: StartGateway
) -> None:
    v2 = replicas("v2")
    dead = ReplicaRoute("run-dead", "node-2", closed_address())
    gw = start_gateway(table(endpoint("iris", version(1, 90, dead), version(2, 10, v2))), bucket=lambda: 0)
    c = gw.caller()
    answer = c.invoke("iris")
    assert (answer.status, answer.version) == (200, "2")
    c.close()


def test_a_replica_that_dies_is_routed_around(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a, b = replicas("a"), replicas("b")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a, b))))
    c = gw.caller()
    for _ in range(4):
        assert c.invoke("iris").status == 200  # both have pooled connections now
    a.stop()
    names = [c.invoke("iris").json()["replica"] for _ in range(6)]
    assert names == ["b"] * 6
    c.close()


def test_all_replicas_down_is_503_with_retry_after(start_gateway: StartGateway) -> None:
    down = (ReplicaRoute("run-x", "n", closed_address()), ReplicaRoute("run-y", "n", closed_address()))
    gw = start_gateway(table(endpoint("iris", version(1, 100, *down))))
    c = gw.caller()
    answer = c.invoke("iris")
    assert answer.status == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert answer.pid.startswith("p-")
    again = c.invoke("iris")  # now known down: not even tried
    assert again.status == 503
    assert (
        again.json()["message"] == "endpoint iris has no ready replica yet (2 not answering probes); retry in a second"
    )
    c.close()


def test_no_replica_yet_is_503_saying_how_many_start(start_gateway: StartGateway) -> None:
    starting = (ReplicaRoute("run-x", "n", ""), ReplicaRoute("run-y", "n", ""))
    gw = start_gateway(table(endpoint("iris", version(1, 100, *starting))))
    c = gw.caller()
    answer = c.invoke("iris")
    assert answer.status == 503
    assert "2 not answering probes" in answer.json()["message"]
    c.close()


def test_a_replicas_own_error_passes_through_untried_elsewhere(
    replicas: MakeReplica, start_gateway: StartGateway
) -> None:
    a, b = replicas("a"), replicas("b")
    a.status = b.status = 400
    gw = start_gateway(table(endpoint("iris", version(1, 100, a, b))))
    c = gw.caller()
    answer = c.invoke("iris")
    assert answer.status == 400
    assert answer.json() == {"error_code": "BAD_REQUEST", "message": "bad input"}
    assert answer.version == "1" and answer.pid
    assert len(a.bodies) + len(b.bodies) == 1
    c.close()


def test_a_weight_change_reaches_routing(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    v1, v2 = replicas("v1"), replicas("v2")
    gw = start_gateway(table(endpoint("iris", version(1, 100, v1), version(2, 0, v2))))
    c = gw.caller()
    assert {c.invoke("iris").version for _ in range(10)} == {"1"}
    backend.set_table(table(endpoint("iris", version(1, 0, v1), version(2, 100, v2))))
    wait_until(lambda: c.invoke("iris").version == "2", what="the new weights")
    assert {c.invoke("iris").version for _ in range(10)} == {"2"}
    c.close()


def test_shadow_answers_are_recorded_not_returned(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    live, shadow = replicas("live"), replicas("shadow")
    gw = start_gateway(table(endpoint("iris", version(1, 100, live), version(2, 0, shadow, shadow=True))))
    c = gw.caller()
    answers = [c.invoke("iris", f'{{"n": {i}}}'.encode()) for i in range(5)]
    assert all(a.status == 200 and a.version == "1" and a.json()["replica"] == "live" for a in answers)
    ids = {a.pid for a in answers}
    wanted = ids | {i + "-shadow" for i in ids}
    wait_until(lambda: wanted <= set(backend.records), what="primary and shadow records")
    for pid in ids:
        primary, mirrored = backend.records[pid], backend.records[pid + "-shadow"]
        assert (primary.shadow, primary.version, primary.replica) == (False, 1, "run-live")
        assert (mirrored.shadow, mirrored.version, mirrored.replica) == (True, 2, "run-shadow")
        assert mirrored.request == primary.request and b'"replica": "shadow"' in mirrored.response
    assert len(shadow.bodies) == 5
    c.close()


def test_a_replica_failing_its_probes_is_left_out_until_one_passes(
    replicas: MakeReplica, start_gateway: StartGateway
) -> None:
    a, b = replicas("a"), replicas("b")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a, b))))
    c = gw.caller()

    def answered_by() -> set[str]:
        return {c.invoke("iris").json()["replica"] for _ in range(4)}

    assert answered_by() == {"a", "b"}
    b.healthy = False  # still answers predictions, but says it is not ready
    wait_until(lambda: answered_by() == {"a"}, what="b taken out after two failed probes")
    b.healthy = True
    wait_until(lambda: answered_by() == {"a", "b"}, what="b back after a passing probe")
    c.close()
