"""Traffic between versions through the real gateway: an approved move of production rolls the endpoints
that follow it, weights and a shadow reach routing at once, a sticky header keeps its version."""

from __future__ import annotations

import json

from kiln.core.deployments import MODEL_VERSION_HEADER, PREDICTION_ID_HEADER, Split
from kiln.core.errors import PermissionDenied
from tests.conftest import ADMIN_PASSWORD, login, wait_until
from tests.deployments.conftest import Served

ROW = {"inputs": [[0.5] * 10]}


def test_an_approved_move_of_production_rolls_the_endpoint_that_follows_it(served: Served, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = served.cluster.admin
    v1, v2 = served.train(1), served.train(2)
    make_user("val", "p", "editor")
    admin.set_validator("p", "val")
    validator = login(served.cluster.coordinator, "val", "val-password")
    admin.request_alias("p", "clf", v1, "production")
    validator.review("p", "clf", v1, True)
    served.deploy("prod", alias="production")
    served.ready("prod", (v1,))

    request = admin.request_alias("p", "clf", v2, "production", "better recall")
    assert request.state == "open"
    assert served.routed("prod") == v1  # nothing moves before the approval
    assert admin.get_deployment("prod").traffic == (Split(v1, 100),)
    validator.review("p", "clf", v2, True, "checked")
    served.ready("prod", (v2,))
    events = admin.get_deployment("prod").events
    assert any(e.state == "rolling" and f"moved to version {v2}" in e.cause for e in events), events


def test_production_traffic_to_another_version_takes_an_owner(served: Served, make_user) -> None:  # type: ignore[no-untyped-def]
    admin = served.cluster.admin
    v1, v2 = served.train(1), served.train(2)
    admin.set_policy("p", 1)
    make_user("val", "p", "editor")
    admin.set_validator("p", "val")
    admin.request_alias("p", "clf", v1, "production")
    login(served.cluster.coordinator, "val", "val-password").review("p", "clf", v1, True)
    served.deploy("prod", alias="production")
    editor = make_user("ed", "p", "editor")
    try:
        editor.set_traffic("prod", (Split(v1, 90), Split(v2, 10)))
        raise AssertionError("an editor moved production traffic")
    except PermissionDenied as e:
        assert "takes a project owner" in str(e)
    assert admin.set_traffic("prod", (Split(v1, 90), Split(v2, 10))).traffic == (Split(v1, 90), Split(v2, 10))
    assert login(served.cluster.coordinator, "admin", ADMIN_PASSWORD).get_deployment("prod").alias == "production"


def test_weights_shadow_and_sticky_header_reach_the_gateway_within_a_second(served: Served) -> None:
    admin = served.cluster.admin
    v1, v2, v3 = served.train(1), served.train(2), served.train(3)
    served.deploy("split", version=v1)
    served.ready("split", (v1,))
    admin.set_traffic("split", (Split(v1, 50), Split(v2, 50), Split(v3, 0, shadow=True)), sticky_header="X-User")
    served.ready("split", (v1, v2, v3))
    with served.http() as http:
        sticky = {
            user: {
                http.post("/endpoints/split/invocations", json=ROW, headers={"X-User": user}).headers[
                    MODEL_VERSION_HEADER
                ]
                for _ in range(5)
            }
            for user in ("ann", "bob", "cem", "dan", "eve", "fay")
        }
        answers = [http.post("/endpoints/split/invocations", json=ROW) for _ in range(60)]
        assert all(len(v) == 1 for v in sticky.values()), sticky
        versions = {a.headers[MODEL_VERSION_HEADER] for a in answers}
        assert versions == {str(v1), str(v2)}  # the shadow never answers
        shadowed = answers[0].headers[PREDICTION_ID_HEADER]
        wait_until(
            lambda: any(p.record.id == shadowed + "-shadow" for p in admin.list_predictions("split", version=v3)),
            10,
            "the shadow's answer",
        )

        admin.set_traffic("split", (Split(v1, 100), Split(v2, 0)))
        wait_until(
            lambda: all(
                http.post("/endpoints/split/invocations", json=ROW).headers[MODEL_VERSION_HEADER] == str(v1)
                for _ in range(10)
            ),
            5,
            "weights to reach the gateway",
        )
    cards = {c.version: c for c in admin.deployment_stats("split")}
    assert cards[v1].requests > 0 and cards[v3].requests > 0 and cards[v1].errors == 0
    label = json.loads(answers[0].text)["predictions"]
    assert admin.add_feedback("split", [(shadowed, json.dumps(label))])[0] == 1
    assert {c.version: c for c in admin.deployment_stats("split")}[
        int(answers[0].headers[MODEL_VERSION_HEADER])
    ].labelled == 1
