"""Who may call: a bearer token checked through the backend (and remembered for a few seconds), refusals
as JSON that say what to do, nothing forwarded for a refused request; and the answers for paths and
methods the gateway does not serve."""

from __future__ import annotations

from kiln.coordinator.gateway.backend import StaticBackend

from .conftest import OTHER_TOKEN, Answer, MakeReplica, StartGateway, endpoint, table, version


def _error(answer: Answer) -> dict[str, str]:
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error_code", "message"} and body["message"]
    return dict(body)


def test_missing_token_is_401_and_nothing_is_forwarded(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    answer = c.invoke("iris", token=None)
    assert answer.status == 401 and answer.pid.startswith("p-")
    assert _error(answer)["error_code"] == "UNAUTHENTICATED"
    assert "Authorization: Bearer" in _error(answer)["message"]
    basic = c.invoke("iris", token=None, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert basic.status == 401
    assert a.bodies == []
    c.close()


def test_unknown_token_is_401_and_another_endpoints_token_403(
    replicas: MakeReplica, start_gateway: StartGateway
) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    wrong = c.invoke("iris", token="not-a-token")
    assert wrong.status == 401 and _error(wrong)["error_code"] == "UNAUTHENTICATED"
    other = c.invoke("iris", token=OTHER_TOKEN)
    assert other.status == 403 and _error(other)["error_code"] == "PERMISSION_DENIED"
    assert "bob may not call endpoint iris" in _error(other)["message"]
    assert a.bodies == []
    assert gw.backend.records == {}  # refused callers do not fill the ledger
    c.close()


def test_a_hot_caller_is_checked_once(
    replicas: MakeReplica, start_gateway: StartGateway, backend: StaticBackend
) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    for _ in range(20):
        assert c.invoke("iris").status == 200
    for _ in range(5):
        assert c.invoke("iris", token="not-a-token").status == 401
    assert backend.authorize_calls == 2
    c.close()


def test_unknown_endpoint_is_404_naming_it(replicas: MakeReplica, start_gateway: StartGateway) -> None:
    a = replicas("a")
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))))
    c = gw.caller()
    answer = c.invoke("irs", b"\x00\xffnot json", headers={"Content-Type": "application/x-garbage"})
    assert answer.status == 404 and answer.pid
    assert _error(answer)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "endpoint irs does not exist" in _error(answer)["message"]
    assert a.bodies == []
    c.close()


def test_other_paths_and_methods_are_json_404_and_405(start_gateway: StartGateway) -> None:
    gw = start_gateway(table())
    c = gw.caller()
    missing = c.request("GET", "/invocations")
    assert missing.status == 404 and _error(missing)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    wrong_method = c.request("GET", "/endpoints/iris/invocations")
    assert wrong_method.status == 405 and _error(wrong_method)["error_code"] == "METHOD_NOT_ALLOWED"
    assert wrong_method.headers["allow"] == "POST"
    c.close()


def test_health_needs_no_token(start_gateway: StartGateway, backend: StaticBackend) -> None:
    gw = start_gateway(table(generation=7))
    c = gw.caller()
    answer = c.request("GET", "/health")
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "generation": backend.table.generation}
    c.close()
