"""Listings of runs and of what runs made come in pages, through a real coordinator and agent: more runs
than a page, each as large as a run may be, are listed and searched whole by the client and by `kiln runs`;
the pages of a run's metrics, of a project's models, their requests and alias history are followed too."""

from __future__ import annotations

import json
import sys

from kiln.core import limits
from kiln.core.paging import PAGE_CAPS
from kiln.core.runs import RunSpec
from kiln.proto.v1 import runs_pb2, runs_pb2_grpc, tracking_pb2, tracking_pb2_grpc
from tests.compute.conftest import push_folder
from tests.conftest import Cli


def largest_run() -> RunSpec:
    """A run whose command and env are as large as the limits allow."""
    word = limits.COMMAND_ARGUMENT.most - 8
    command = ("echo", "x" * word, "y" * (limits.COMMAND_BYTES.most - word - 16))
    value = limits.ENV.value.most - 8
    env = {"A": "v" * value, "B": "w" * (limits.ENV.total - value - 16)}
    return RunSpec("p", command, env=env)


def test_runs_past_one_page_as_large_as_runs_may_be_are_listed_and_searched_whole(cluster, cli: Cli):
    cluster.agent("n1")
    cluster.admin.set_drain("n1", True)  # the runs stay queued: a listing that does not change under the test
    cap = PAGE_CAPS["ListRuns"]
    spec = largest_run()
    submitted = {cluster.admin.submit_run(spec).id for _ in range(cap + 5)}
    stored = [r.id for r in cluster.coordinator.ctx.store.runs(["p"])]  # newest first
    assert set(stored) == submitted

    assert [r.id for r in cluster.admin.list_runs("p")] == stored
    assert [r.id for r in cluster.admin.list_runs("p", limit=cap + 1)] == stored[: cap + 1]
    assert [r.id for r in cluster.admin.search_runs("p", "state = 'queued'", limit=0)] == stored
    assert [r.id for r in cluster.admin.search_runs("p", sort="created_at", limit=0)] == stored[::-1]

    cli.sign_in(cluster.coordinator)
    every = json.loads(cli.ok("runs", "-p", "p", "--limit", "0", "--json"))
    assert [r["id"] for r in every] == stored and every[0]["command"] == list(spec.command)
    assert [r["id"] for r in json.loads(cli.ok("runs", "-p", "p", "--json"))] == stored[:100]  # the default
    searched = json.loads(cli.ok("runs", "-p", "p", "--filter", "state = 'queued'", "--limit", "0", "--json"))
    assert [r["id"] for r in searched] == stored
    text = cli.ok("runs", "-p", "p", "--limit", "0")
    assert text.count("COMMAND") == 1 and sum(r in text for r in stored) == len(stored)
    audit = json.loads(cli.ok("audit", "list", "--limit", "0", "--action", "run.submit", "--json"))
    assert len(audit) == len(stored)

    runs_stub = runs_pb2_grpc.RunsStub(cluster.admin.channel)
    old = runs_stub.ListRuns(runs_pb2.ListRunsRequest(project="p", limit=1000))  # a client from before paging
    assert [r.id for r in old.runs] == stored[:cap] and old.next_page_token
    asked = tracking_pb2.SearchRunsRequest(project="p", filter="state = 'queued'", page_size=10**6)
    found = tracking_pb2_grpc.TrackingStub(cluster.admin.channel).SearchRuns(asked)
    assert len(found.runs) == PAGE_CAPS["SearchRuns"] and found.next_page_token


LOG_MANY = (
    "import os, kiln.track as kt\n"
    "kt.log_metrics({f'm{i:03d}': float(i) for i in range(%d)}, step=0)\n"
    "os.makedirs('model', exist_ok=True); open('model/w', 'w').write('1')\n"
)


def test_a_runs_metrics_and_a_projects_models_requests_and_history_follow_their_pages(cluster):
    cluster.agent("n1")
    keys = PAGE_CAPS["GetMetrics"] + 20
    code = push_folder(cluster, {"train.py": LOG_MANY % keys})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), code))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", cluster.output(run.id)

    series = cluster.admin.metrics(run.id)
    assert [s.key for s in series] == [f"m{i:03d}" for i in range(keys)]
    assert [s.points[-1][1] for s in series] == [float(i) for i in range(keys)]
    first = tracking_pb2_grpc.TrackingStub(cluster.admin.channel).GetMetrics(
        tracking_pb2.GetMetricsRequest(run_id=run.id, page_size=10**6)
    )
    assert len(first.series) == PAGE_CAPS["GetMetrics"] and first.next_page_token

    for name in ("m1", "m2", "m3", "m4", "m5"):
        cluster.admin.register_model(run.id, "model", name)
    for _ in range(2):
        cluster.admin.register_model(run.id, "model", "m1")  # versions 2 and 3: m1 spans two pages of two
    for version in (1, 2, 1, 2, 1):
        cluster.admin.request_alias("p", "m1", version, "staging")

    def every():  # type: ignore[no-untyped-def]
        return (
            cluster.admin.list_models("p"),
            cluster.admin.get_model("p", "m1"),
            cluster.admin.alias_requests("p", "m1"),
            cluster.admin.alias_history("p", "m1"),
            cluster.admin.alias_history("p", "m1", at=done.finished_at + 3600),
        )

    whole = every()
    assert [(m.name, len(m.versions)) for m in whole[0]] == [("m1", 3), ("m2", 1), ("m3", 1), ("m4", 1), ("m5", 1)]
    assert [v.version for v in whole[1].versions] == [1, 2, 3] and whole[1].aliases == {"staging": 1}
    assert [r.version for r in whole[2]] == [1, 2, 1, 2, 1]
    assert [m.version for m in whole[3]] == [1, 2, 1, 2, 1]
    assert [(m.alias, m.version) for m in whole[4]] == [("staging", 1)]
    cluster.admin.page_size = 2
    assert cluster.admin.metrics(run.id) == series
    assert every() == whole
