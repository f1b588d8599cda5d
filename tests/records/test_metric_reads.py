"""Through a real coordinator: reading a metric's history whole (downsampled, with where its lowest and
highest values are) or only after a step (what a live chart has not shown yet), and the incremental
read's field bounded and checked at the edge."""

from __future__ import annotations

import math

import grpc
import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.runs import RunState
from kiln.proto.v1 import tracking_pb2, tracking_pb2_grpc
from tests.records.planted import Planted, plant


def loss(step: int) -> float:
    return 2.0 / (step + 1) + (0.5 if step == 700 else 0.0)  # lowest at the last step; a spike at 700


@pytest.fixture
def run_id(coordinator, admin) -> str:
    admin.create_project("p")
    store = coordinator.ctx.store
    [run] = plant(store, "p", [Planted(1000.0, RunState.RUNNING, started=1000.0)])
    with store.transaction():
        store.add_metrics(run, [("loss", s, loss(s), 1000.0 + s) for s in range(2086)])
        store.add_metrics(run, [("acc", s, 0.5 + s / 5000, 1000.0 + s) for s in range(0, 2086, 5)])
        store.add_metrics(run, [("acc", 2085, 0.9, 3085.0), ("acc", 1000, 0.95, 2000.0)])  # best in the middle
        store.add_metrics(run, [("blank", 0, math.nan, 1000.0)])
    return run


def test_a_whole_read_is_downsampled_and_says_where_the_best_values_are(admin, run_id):
    by_key = {s.key: s for s in admin.metrics(run_id, None, 500)}
    loss_read, acc, blank = by_key["loss"], by_key["acc"], by_key["blank"]
    assert loss_read.total_points == 2086 and len(loss_read.points) <= 500 and loss_read.after_step is None
    assert loss_read.points[-1][0] == 2085
    assert loss_read.lowest == (2085, loss(2085)) and loss_read.highest == (0, 2.0)
    assert acc.highest == (1000, 0.95) and acc.lowest == (0, 0.5)
    assert blank.lowest is None and blank.highest is None  # only a NaN: no best to name


def test_a_read_after_a_step_brings_only_the_newer_points(coordinator, admin, run_id):
    [first] = admin.metrics(run_id, ["loss"], 500)
    coordinator.ctx.store.add_metrics(run_id, [("loss", s, 0.001, 1000.0 + s) for s in range(2086, 2100)])
    newer = {s.key: s for s in admin.metrics(run_id, None, 500, after_step={"loss": first.points[-1][0]})}
    assert [p[0] for p in newer["loss"].points] == list(range(2086, 2100))
    assert newer["loss"].total_points == 2100 and newer["loss"].after_step == 2085
    assert newer["loss"].lowest is None  # the caller holds the earlier points: no full scan for extremes
    assert len(newer["acc"].points) > 14 and newer["acc"].highest == (1000, 0.95)  # not named: whole
    [nothing] = admin.metrics(run_id, ["loss"], 500, after_step={"loss": 2099})
    assert nothing.points == () and nothing.total_points == 2100


def test_more_new_points_than_a_read_carries_are_downsampled_and_end_at_the_last(admin, run_id):
    [read] = admin.metrics(run_id, ["loss"], 100, after_step={"loss": 0})
    steps = [p[0] for p in read.points]
    assert len(steps) <= 100 and steps[0] == 1 and steps[-1] == 2085 and read.total_points == 2086


@pytest.mark.parametrize(
    ("keys", "after", "words"),
    [
        (["loss"], {"acc": 3}, "after_step names 'acc', which the read does not ask for"),
        ([], {f"k{i}": 0 for i in range(1001)}, "after_step has 1,001 keys; at most 1,000 keys"),
        ([], {"k" * 251: 0}, "after_step key has 251 characters; at most 250 characters"),
        ([], {"": 0}, "after_step has an empty key"),
    ],
)
def test_a_bad_after_step_is_refused_with_the_reason(admin, run_id, keys, after, words):
    with pytest.raises(InvalidArgument, match=words.replace("(", r"\(")):
        admin.metrics(run_id, keys, 100, after_step=after)


def test_a_bad_after_step_is_invalid_argument_on_the_wire(coordinator, admin, run_id):
    stub = tracking_pb2_grpc.TrackingStub(admin.channel)
    request = tracking_pb2.GetMetricsRequest(run_id=run_id, keys=["loss"], after_step={"acc": 1})
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetMetrics(request)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
