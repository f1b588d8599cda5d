"""Through a real coordinator: the keys a project's runs logged (ListRunKeys, what a table of runs offers
as columns), bounded and checked at the edge; and a search page that counts every run it matches."""

from __future__ import annotations

import grpc
import pytest

from kiln.coordinator import tracking
from kiln.core.errors import InvalidArgument, NotFound, PermissionDenied
from kiln.core.runs import RunState
from kiln.proto.v1 import tracking_pb2, tracking_pb2_grpc
from tests.records.planted import Planted, plant


@pytest.fixture
def logged(coordinator, admin):
    admin.create_project("p")
    admin.create_project("other")
    store = coordinator.ctx.store
    ids = plant(
        store,
        "p",
        [
            Planted(1000.0, params={"lr": "0.1", "opt": "adam"}, metrics={"val_auc": 0.9}, tags={"name": "base"}),
            Planted(1001.0, params={"lr": "0.2", "batch": "64"}, metrics={"loss": 0.3, "val_auc": 0.95}),
            Planted(1002.0, RunState.FAILED, metrics={"loss": 0.5}),
        ],
    )
    plant(store, "other", [Planted(1003.0, params={"secret_param": "1"}, tags={"hidden": "x"})])
    return ids


def test_the_keys_a_projects_runs_logged_are_listed_by_kind_and_name(admin, logged):
    keys = admin.run_keys("p")
    assert keys.params == ("batch", "lr", "opt") and keys.metrics == ("loss", "val_auc") and keys.tags == ("name",)
    assert not keys.truncated
    assert keys.columns() == [
        "params.batch",
        "params.lr",
        "params.opt",
        "metrics.loss",
        "metrics.val_auc",
        "tags.name",
    ]
    assert admin.run_keys("other").params == ("secret_param",)  # each project's own


def test_past_the_cap_the_first_keys_are_listed_and_the_reply_says_more_exist(admin, logged, monkeypatch):
    monkeypatch.setattr(tracking, "RUN_KEYS_LISTED", 2)
    keys = admin.run_keys("p")
    assert keys.params == ("batch", "lr") and keys.metrics == ("loss", "val_auc") and keys.truncated


@pytest.mark.parametrize(
    "project, error, message",
    [
        ("", InvalidArgument, "name the project"),
        ("x" * 64, InvalidArgument, "at most 63"),
        ("nope", NotFound, "no project named 'nope'"),
    ],
)
def test_bad_projects_are_refused_with_what_to_do(admin, logged, project, error, message):
    with pytest.raises(error, match=message):
        admin.run_keys(project)


def test_a_non_member_learns_no_keys(logged, make_user):
    outsider = make_user("eve")
    with pytest.raises(PermissionDenied, match="not a member"):
        outsider.run_keys("p")


def test_a_huge_project_name_is_refused_before_any_lookup(coordinator, admin, logged):
    stub = tracking_pb2_grpc.TrackingStub(admin.channel)
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListRunKeys(tracking_pb2.RunKeysRequest(project="p" * 100_000))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_counted_search_page_says_how_many_match_in_all(admin, logged):
    first = admin.search_page("p", "metrics.loss > 0", size=1, count=True, columns=["metrics.loss"])
    assert first.total == 2 and len(first.rows) == 1 and first.next_token
    assert first.rows[0][1].metrics == {"loss": 0.5}  # newest first
    second = admin.search_page("p", "metrics.loss > 0", size=1, token=first.next_token, columns=["metrics.loss"])
    assert second.total is None and [r.id for r, _ in second.rows] == [logged[1]] and not second.next_token
    assert admin.search_page("p", count=True).total == 3  # no filter: every run of the project
    assert admin.search_page("p").total is None  # not asked: not counted


def test_a_bad_filter_is_refused_whether_counted_or_not(admin, logged):
    with pytest.raises(InvalidArgument, match="unknown field"):
        admin.search_page("p", "colour = red", count=True)
    with pytest.raises(InvalidArgument, match="ends too early"):
        admin.search_page("p", "metrics.loss >", count=True)
