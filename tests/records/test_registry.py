"""The model registry and its governance: versions from runs, aliases, approvals by validators only."""

from __future__ import annotations

import pytest

from kiln.core.errors import FailedPrecondition, NotFound, PermissionDenied
from kiln.core.models import AliasMove
from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import login


@pytest.fixture
def model(cluster):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    runs = []
    for i in range(2):
        run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", f"mkdir -p model && echo {i} > model/w"), snap))
        runs.append(cluster.wait_run(run.id))
    for run in runs:
        cluster.admin.register_model(run.id, "model", "churn")
    for name in ("val1", "val2", "dev"):
        cluster.admin.create_user(name, f"{name}-password")
        cluster.admin.set_member("p", name, "editor")
    cluster.admin.set_validator("p", "val1")
    cluster.admin.set_validator("p", "val2")
    return {n: login(cluster.coordinator, n, f"{n}-password") for n in ("val1", "val2", "dev")}


def test_versions_come_from_run_outputs(cluster, model):
    found = cluster.admin.get_model("p", "churn")
    versions = found.versions
    assert [v.version for v in versions] == [1, 2] and found.aliases == {} and found.required_approvals == 1
    with pytest.raises(NotFound, match="has no 'missing'"):
        cluster.admin.register_model(versions[0].run_id, "missing", "churn")
    queued = cluster.admin.submit_run(RunSpec("p", ("true",), versions[0].snapshot))
    cluster.admin.cancel_run(queued.id)
    with pytest.raises(FailedPrecondition, match="no output snapshot"):
        cluster.admin.register_model(queued.id, "model", "churn")


def test_production_moves_only_when_the_policy_is_met_by_other_validators(cluster, model):
    cluster.admin.set_policy("p", 2)
    staging = model["dev"].request_alias("p", "churn", 1, "staging")
    assert staging.state == "applied" and cluster.admin.get_model("p", "churn").aliases == {"staging": 1}
    request = model["val1"].request_alias("p", "churn", 2, "production", "better recall")
    assert request.state == "open" and request.required_approvals == 2
    with pytest.raises(PermissionDenied, match="not a model validator"):
        model["dev"].review("p", "churn", 2, True)
    with pytest.raises(PermissionDenied, match="cannot review their own"):
        model["val1"].review("p", "churn", 2, True)
    after_one = model["val2"].review("p", "churn", 2, True, "looks good")
    assert after_one.state == "open" and "production" not in cluster.admin.get_model("p", "churn").aliases
    with pytest.raises(FailedPrecondition, match="already reviewed"):
        model["val2"].review("p", "churn", 2, True)
    cluster.admin.set_validator("p", "dev")
    done = model["dev"].review("p", "churn", 2, True)
    assert done.state == "approved"
    assert cluster.admin.get_model("p", "churn").aliases == {"staging": 1, "production": 2}
    audit = [r.action for r in cluster.admin.list_audit(action_prefix="model.")]
    assert audit.count("model.review") == 2 and "model.alias.request" in audit


def test_a_rejection_closes_the_request_and_history_answers_for_any_time(cluster, model):
    model["dev"].request_alias("p", "churn", 1, "production")
    first = model["val1"].review("p", "churn", 1, True)
    assert first.state == "approved"
    moved_at = cluster.admin.alias_history("p", "churn")[0].time
    model["dev"].request_alias("p", "churn", 2, "production")
    rejected = model["val2"].review("p", "churn", 2, False, "drift on segment B")
    assert rejected.state == "rejected"
    assert cluster.admin.get_model("p", "churn").aliases["production"] == 1
    model["dev"].request_alias("p", "churn", 2, "production")
    model["val2"].review("p", "churn", 2, True)
    assert cluster.admin.alias_history("p", "churn", at=moved_at) == [
        AliasMove(
            alias="production",
            version=1,
            time=moved_at,
            actor="val1",
            request_id=cluster.admin.alias_requests("p", "churn")[0].id,
        )
    ]
    assert [m.version for m in cluster.admin.alias_history("p", "churn")] == [1, 2]
    assert cluster.admin.alias_history("p", "churn", at=moved_at - 1) == []


def test_viewers_and_outsiders_cannot_touch_the_registry(cluster, model):
    cluster.admin.create_user("vic", "vic-password")
    cluster.admin.set_member("p", "vic", "viewer")
    vic = login(cluster.coordinator, "vic", "vic-password")
    run_id = cluster.admin.get_model("p", "churn").versions[0].run_id
    with pytest.raises(PermissionDenied, match="editor or above"):
        vic.register_model(run_id, "model", "churn")
    with pytest.raises(PermissionDenied, match="editor or above"):
        vic.request_alias("p", "churn", 1, "staging")
    assert [v.version for v in vic.get_model("p", "churn").versions] == [1, 2]
    cluster.admin.create_user("eve", "eve-password")
    eve = login(cluster.coordinator, "eve", "eve-password")
    with pytest.raises(PermissionDenied):
        eve.get_model("p", "churn")
    with pytest.raises(PermissionDenied):
        eve.run_record(run_id)
    with pytest.raises(PermissionDenied):
        model["dev"].set_policy("p", 1)
