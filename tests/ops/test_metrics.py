"""The Prometheus endpoints of a real coordinator and a real agent: runs by state, queue depth, nodes and
their heartbeats, RPC latency and status codes; the agent's link, jobs and spool."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kiln.agent.daemon import Agent, AgentConfig
from kiln.client import Client
from kiln.core.errors import InvalidArgument, Unauthenticated
from kiln.core.runs import RunSpec
from tests.compute.conftest import FAST
from tests.conftest import ADMIN_PASSWORD, login, start_coordinator, wait_until


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(tmp_path: Path):
    rc = start_coordinator(tmp_path / "coordinator", **FAST, metrics_listen="127.0.0.1:0")
    admin = login(rc, "admin", ADMIN_PASSWORD)
    yield rc, admin, rc._serving.metrics.port
    admin.close()
    rc.stop()


def test_the_coordinator_reports_runs_nodes_and_rpc_latency(metered, tmp_path):
    rc, admin, port = metered
    admin.create_project("p")
    with pytest.raises(Unauthenticated), Client(rc.address, rc.ctx.tls.ca_pem, "not-a-token") as stranger:
        stranger.list_projects()
    config = AgentConfig(
        rc.address,
        tmp_path / "agent",
        admin.create_join_token().token,
        "m1",
        runtimes=("process",),
        metrics_listen="127.0.0.1:0",
    )
    agent = Agent(config)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: value(scrape(port), "kiln_nodes", state="ready") == 1, 20, "m1 to be ready")
        admin.set_drain("m1", True)  # the run waits in the queue
        run = admin.submit_run(RunSpec("p", ("sh", "-c", "echo hi"), runtime="process"))
        samples = scrape(port)
        assert value(samples, "kiln_runs", state="queued") == 1 and value(samples, "kiln_queue_depth") == 1
        assert value(samples, "kiln_nodes", state="draining") == 1 and value(samples, "kiln_agent_streams") == 1
        assert 0 <= value(samples, "kiln_node_heartbeat_age_seconds", node="m1") < FAST["heartbeat_timeout_s"]
        assert value(samples, "kiln_rpc_duration_seconds_count", method="/kiln.v1.Auth/Login") == 1
        assert value(samples, "kiln_rpc_total", method="/kiln.v1.Projects/ListProjects", code="UNAUTHENTICATED") == 1
        assert value(samples, "kiln_rpc_total", method="/kiln.v1.Runs/SubmitRun", code="OK") == 1

        admin.set_drain("m1", False)
        wait_until(lambda: str(admin.get_run(run.id).state) == "succeeded", 60, "the run on m1")
        samples = scrape(port)
        assert value(samples, "kiln_runs", state="succeeded") == 1 and value(samples, "kiln_queue_depth") == 0

        on_node = scrape(agent.metrics.port)
        assert value(on_node, "kiln_agent_connected", node="m1") == 1
        assert value(on_node, "kiln_node_memory_used_bytes", node="m1") > 0
        assert ("kiln_agent_spool_pending", (("node", "m1"),)) in on_node
    finally:
        agent.stop()
        thread.join(30)
    with pytest.raises(OSError):
        scrape(agent.metrics.port)  # the agent's endpoint goes with it


def test_a_metrics_address_in_use_is_a_clear_error(metered, tmp_path):
    _, _, port = metered
    with pytest.raises(InvalidArgument, match="cannot serve metrics on"):
        start_coordinator(tmp_path / "other", metrics_listen=f"127.0.0.1:{port}")
