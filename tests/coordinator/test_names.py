"""One name rule (kiln.core.names) for every name a person chooses, through the real coordinator: a name
with a control character, a space at either end or a trailing newline is refused for each kind of entity,
and nothing is created; `production\\n` is not `production`, so it cannot move without approval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiln.agent.identity import enroll
from kiln.client import Client
from kiln.core.errors import InvalidArgument, KilnError
from kiln.core.runs import RunSpec
from tests.compute.conftest import cluster, push_folder  # noqa: F401  (the real cluster fixture)
from tests.conftest import client_for
from tests.coordinator.test_limits import db_state

BAD = ["vision\n", " vision", "vision ", "vi\x1bsion", "vi\tsion", "Vision", "", "v" * 64, "vi/sion", "vi sion"]


def _refused(call: Callable[[], object], noun: str) -> str:
    with pytest.raises(KilnError) as refused:
        call()
    message = str(refused.value)
    assert isinstance(refused.value, InvalidArgument), message
    assert message.startswith(f"invalid {noun} ") and "\n" not in message
    return message


@pytest.mark.parametrize("name", BAD, ids=repr)
def test_a_bad_project_user_or_dataset_name_is_refused(coordinator: Any, admin: Client, name: str) -> None:
    admin.create_project("p")
    snap = admin.create_snapshot("p", [])
    before = db_state(coordinator)
    _refused(lambda: admin.create_project(name), "project name")
    _refused(lambda: admin.create_user(name, "a-good-password"), "user name")
    _refused(lambda: admin.add_dataset_version("p", name, snap.id), "dataset name")
    _refused(lambda: admin.register_model("r-000000000000", "model", name), "model name")
    _refused(lambda: admin.request_alias("p", "m", 1, name), "alias name")
    assert db_state(coordinator) == before


def test_the_message_shows_the_name_escaped_and_says_the_rule(admin: Client) -> None:
    message = _refused(lambda: admin.create_project("vision\n"), "project name")
    assert message == (
        "invalid project name 'vision\\n': use 1-63 lower-case letters, digits, '.', '_' or '-', "
        "starting with a letter or digit"
    )
    assert "…" in _refused(lambda: admin.create_project("v" * 5000), "project name")


@pytest.mark.parametrize("name", ["laptop\n", "my laptop", "x" * 64, "ci\x00"], ids=repr)
def test_a_bad_token_name_is_refused(coordinator: Any, admin: Client, name: str) -> None:
    before = db_state(coordinator)
    _refused(lambda: admin.create_token(name), "token name")
    with client_for(coordinator) as anonymous:
        _refused(lambda: anonymous.login("admin", "admin-password-1", name), "token name")
    assert db_state(coordinator) == before
    assert admin.create_token("CI-runner@build+1")[1].name == "CI-runner@build+1"  # what the rule allows


@pytest.mark.parametrize(
    "labels, noun",
    [
        ({"zone\n": "a"}, "label key"),
        ({"zone": "a\n"}, "label value"),
        ({" zone": "a"}, "label key"),
        ({"zone": "a b"}, "label value"),
    ],
    ids=repr,
)
def test_a_run_asking_for_a_bad_label_is_refused(coordinator: Any, admin: Client, labels: dict, noun: str) -> None:
    admin.create_project("p")
    before = db_state(coordinator)
    _refused(lambda: admin.submit_run(RunSpec("p", ("true",), node_labels=labels)), noun)
    assert db_state(coordinator) == before


@pytest.mark.parametrize("key", ["A\n", "1A", "A-B", "A B", "", "A=B"], ids=repr)
def test_a_bad_env_var_name_is_refused(coordinator: Any, admin: Client, key: str) -> None:
    admin.create_project("p")
    before = db_state(coordinator)
    _refused(lambda: admin.submit_run(RunSpec("p", ("true",), env={key: "x"})), "env var name")
    assert db_state(coordinator) == before


def test_a_bad_runtime_name_is_refused(coordinator: Any, admin: Client) -> None:
    admin.create_project("p")
    before = db_state(coordinator)
    _refused(lambda: admin.submit_run(RunSpec("p", ("true",), runtime="process\n")), "runtime name")
    assert db_state(coordinator) == before


@pytest.mark.parametrize(
    "name, labels, noun",
    [
        ("gpu-01\n", {}, "node name"),
        ("GPU 01", {}, "node name"),
        ("gpu-01", {"zone\n": "a"}, "label key"),
        ("gpu-01", {"zone": "eu west"}, "label value"),
    ],
    ids=repr,
)
def test_a_node_with_a_bad_name_or_label_cannot_enrol(
    tmp_path: Path, coordinator: Any, admin: Client, name: str, labels: dict, noun: str
) -> None:
    token = admin.create_join_token(1, 600).token
    before = db_state(coordinator)
    _refused(lambda: enroll(tmp_path / "bad", coordinator.address, token, name, labels), noun)
    assert db_state(coordinator) == before
    enroll(tmp_path / "good", coordinator.address, token, "gpu-01", {"zone": "eu-west-1"})  # the token is unspent
    [node] = admin.list_nodes()
    assert (node.name, node.labels) == ("gpu-01", {"zone": "eu-west-1"})


def test_production_with_a_newline_is_not_production_and_moves_nothing(cluster: Any) -> None:  # noqa: F811
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.wait_run(cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "mkdir m && echo 1 > m/w"), snap)).id)
    cluster.admin.register_model(run.id, "m", "churn")
    before = db_state(cluster.coordinator)
    for alias in ("production\n", "production ", " production", "prod\x00uction"):
        _refused(lambda alias=alias: cluster.admin.request_alias("p", "churn", 1, alias), "alias name")
    _refused(lambda: cluster.admin.register_model(run.id, "m", "churn\n"), "model name")
    assert db_state(cluster.coordinator) == before
    assert cluster.admin.get_model("p", "churn").aliases == {}
    assert cluster.admin.request_alias("p", "churn", 1, "production").state == "open"  # the real one waits
