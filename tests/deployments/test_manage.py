"""Deployments as registry entities through the real coordinator: what is recorded, what each bad request
is told (and that it changes nothing), who may do what, and the audit trail."""

from __future__ import annotations

import pytest

from kiln.core.deployments import Split
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kiln.core.runs import Resources
from tests.conftest import wait_until
from tests.deployments.conftest import Served


def test_a_deployment_records_its_model_version_replicas_and_history(served: Served) -> None:
    v1 = served.train(1)
    d = served.deploy("churn", version=v1, replicas=2)
    assert (d.project, d.name, d.model, d.state, d.replicas) == ("p", "churn", "clf", "active", 2)
    assert d.traffic == (Split(v1, 100),)
    assert d.url.startswith("https://127.0.0.1:") and d.url.endswith("/endpoints/churn/invocations")
    assert [e.state for e in d.events] == ["created"] and d.events[0].actor == "admin"
    listed = served.cluster.admin.list_deployments("p")
    assert [x.name for x in listed] == ["churn"]
    two = wait_until(lambda: len(served.cluster.admin.get_deployment("churn").replica_list) == 2, 10, "2 replicas")
    assert two
    audit = [(r.action, r.target) for r in served.cluster.admin.list_audit() if r.action.startswith("deployment.")]
    assert audit[0] == ("deployment.create", "churn")
    replicas = {r.run_id for r in served.cluster.admin.get_deployment("churn").replica_list}
    assert {target for action, target in audit[1:]} == replicas  # each replica's run, queued by the endpoint
    assert {action for action, _ in audit[1:]} == {"deployment.replica"}


@pytest.mark.parametrize(
    ("change", "error", "says"),
    [
        ({"name": "Bad Name"}, InvalidArgument, "invalid deployment name"),
        ({"version": 0, "alias": ""}, InvalidArgument, "exactly one of --version"),
        ({"version": 1, "alias": "production"}, InvalidArgument, "exactly one of --version"),
        ({"replicas": 65}, InvalidArgument, "replicas must be between 1 and 64"),
        ({"version": 9}, NotFound, "has no version 9"),
        ({"model": "nope"}, NotFound, "no model 'nope'"),
        ({"version": 0, "alias": "production"}, FailedPrecondition, "points to no version yet"),
        ({"sticky_header": "X User"}, InvalidArgument, "is not an HTTP header name"),
        ({"sample_rate": 1.5}, InvalidArgument, "sample rate"),
        ({"sample_rate": float("nan")}, InvalidArgument, "sample rate"),
        ({"environment": "e" * 300}, InvalidArgument, "environment"),
    ],
)
def test_a_bad_create_is_refused_with_what_to_do_and_records_nothing(
    served: Served, change: dict[str, object], error: type[Exception], says: str
) -> None:
    served.train(1)
    request: dict[str, object] = {"version": 1, "alias": "", "replicas": 1, "name": "ep", "model": "clf", **change}
    name, model = request.pop("name"), request.pop("model")
    with pytest.raises(error, match=says):
        served.cluster.admin.create_deployment("p", str(name), str(model), resources=Resources(0.25), **request)  # type: ignore[arg-type]
    assert served.cluster.admin.list_deployments() == []
    assert not [r for r in served.cluster.admin.list_audit() if r.action.startswith("deployment.")]


def test_endpoint_names_are_unique_across_projects(served: Served) -> None:
    served.train(1)
    served.deploy("ep", version=1)
    with pytest.raises(AlreadyExists, match="unique across projects"):
        served.deploy("ep", version=1)


def test_traffic_is_checked_before_it_is_recorded(served: Served) -> None:
    served.train(1)
    served.train(2)
    served.deploy("ep", version=1)
    admin = served.cluster.admin
    for splits, says in [
        ((Split(1, 60), Split(2, 30)), "add up to 90"),
        ((Split(1, 100), Split(1, 0, True)), "names a version twice"),
        ((Split(1, 100), Split(2, 10, True)), "takes no weight"),
        ((Split(1, 100), Split(7, 0, True)), "has no version 7"),
        ((), "at least one version"),
    ]:
        with pytest.raises((InvalidArgument, NotFound), match=says):
            admin.set_traffic("ep", splits)
    assert admin.get_deployment("ep").traffic == (Split(1, 100),)
    d = admin.set_traffic("ep", (Split(1, 90), Split(2, 10)), sticky_header="X-User")
    assert d.traffic == (Split(1, 90), Split(2, 10)) and d.sticky_header == "X-User"
    assert d.events[-1].state == "traffic" and "v1 90%, v2 10%" in d.events[-1].cause


def test_viewers_read_endpoints_but_only_editors_change_them(served: Served, make_user) -> None:  # type: ignore[no-untyped-def]
    served.train(1)
    served.deploy("ep", version=1)
    viewer = make_user("vera", "p", "viewer")
    outsider = make_user("otto")
    assert viewer.get_deployment("ep").name == "ep"
    with pytest.raises(PermissionDenied):
        viewer.scale_deployment("ep", 3)
    with pytest.raises(PermissionDenied):
        viewer.create_endpoint_token("ep", "app")
    with pytest.raises((PermissionDenied, NotFound)):
        outsider.get_deployment("ep")
    assert outsider.list_deployments() == []


def test_scale_and_stop_are_recorded_and_a_stopped_endpoint_cannot_change(served: Served) -> None:
    served.train(1)
    served.deploy("ep", version=1)
    admin = served.cluster.admin
    assert admin.scale_deployment("ep", 3).replicas == 3
    stopped = admin.stop_deployment("ep")
    assert stopped.state == "stopped" and stopped.serving == ()
    with pytest.raises(FailedPrecondition, match="is stopped"):
        admin.scale_deployment("ep", 1)
    assert [e.state for e in admin.get_deployment("ep").events] == ["created", "scaled", "stopped"]
