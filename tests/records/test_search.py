"""Searching runs with the filter language (parsed, bound as parameters, never pasted into SQL)."""

from __future__ import annotations

import sys

import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder


@pytest.fixture
def runs(cluster):
    cluster.agent("n1")
    script = (
        "import sys, kiln.track as kt\nlr, acc = float(sys.argv[1]), float(sys.argv[2])\n"
        "kt.log_param('lr', lr)\nkt.log_param('opt', sys.argv[3])\nkt.log_metric('acc', 0.1)\n"
        "kt.log_metric('acc', acc)\n"
    )
    snap = push_folder(cluster, {"t.py": script})
    ids = {}
    for lr, acc, opt in (
        ("0.1", "0.95", "adam"),
        ("0.001", "0.97", "sgd"),
        ("0.05", "0.80", "adamw"),
        ("0.2", "0.91", "sgd"),
    ):
        run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "t.py", lr, acc, opt), snap))
        ids[(lr, acc)] = run.id
    for run_id in ids.values():
        assert str(cluster.wait_run(run_id).state) == "succeeded"
    return ids


def test_filters_compare_numbers_and_sort_by_final_metrics(cluster, runs):
    found = cluster.admin.search_runs("p", "params.lr > 0.01 and metrics.acc >= 0.9", "-metrics.acc")
    assert [r.id for r in found] == [runs[("0.1", "0.95")], runs[("0.2", "0.91")]]
    either = cluster.admin.search_runs(
        "p", "(params.opt = sgd or params.opt like 'adam%') and state = succeeded", "metrics.acc"
    )
    assert [r.id for r in either] == [
        runs[k] for k in (("0.05", "0.80"), ("0.2", "0.91"), ("0.1", "0.95"), ("0.001", "0.97"))
    ]


def test_values_are_never_sql(cluster, runs):
    hostile = """params.opt = "x' OR 1=1; DROP TABLE runs; --" """
    assert cluster.admin.search_runs("p", hostile) == []
    with pytest.raises(InvalidArgument):
        cluster.admin.search_runs("p", "params.opt = 'x'' OR 1=1; DROP TABLE runs; --'")
    assert len(cluster.admin.list_runs("p")) == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("params.lr >", "ends too early"),
        ("colour = red", "unknown field"),
        ("params.lr ~ 3", "expected an operator"),
        ("(state = failed", "not closed"),
        ("metrics.acc like 3", "compares text"),
    ],
)
def test_bad_filters_say_what_is_wrong(cluster, runs, text, message):
    with pytest.raises(InvalidArgument, match=message):
        cluster.admin.search_runs("p", text)
