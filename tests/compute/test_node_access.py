"""Node certificates serve the agent link only, and a node touches only what the runs assigned to it need
now: their input snapshots and datasets to read, their projects to write outputs into. Every call kind is
made through the real server with a real node identity (the agent's own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.client import Client
from kiln.core.errors import PermissionDenied
from kiln.core.runs import RunSpec
from kiln.sync.push import push
from tests.compute.conftest import Cluster, push_folder
from tests.conftest import wait_until

AGENT_LINK_ONLY = "node certificates serve the agent link only"


def node_client(cluster: Cluster, handle) -> Client:  # type: ignore[no-untyped-def]
    ident = handle.agent.identity
    address = ident.agent_address(cluster.coordinator.agent_port)
    return Client(address, ident.ca_pem, node_identity=(ident.key_pem, ident.cert_pem))


def digests(client: Client, snapshot: str, project: str) -> list[str]:
    return [e.digest for e in client.get_snapshot(snapshot, project)[1] if e.has_blob]


@pytest.fixture
def busy(cluster: Cluster):  # type: ignore[no-untyped-def]
    """Node n1 running a run of project p (input snapshot, one dataset), beside what it must not reach."""
    handle = cluster.agent("n1")
    admin = cluster.admin
    admin.create_project("q")
    inputs = push_folder(cluster, {"in.txt": "the input\n"})
    other = push_folder(cluster, {"other.txt": "not this run's\n"})
    data = push_folder(cluster, {"rows.csv": "a,b\n"})
    admin.add_dataset_version("p", "d", data)
    src = cluster.tmp / "q-src"
    src.mkdir()
    (src / "q.txt").write_text("project q's file\n")
    elsewhere = push(admin, src, "q", "", cluster.tmp / "push-cache").snapshot.id
    run = admin.submit_run(RunSpec("p", ("sleep", "600"), inputs, runtime="process", datasets=("d",)))
    wait_until(lambda: str(admin.get_run(run.id).state) == "running", 30, "the run to start")
    return handle, run, {"inputs": inputs, "other": other, "data": data, "q": elsewhere}


def test_a_node_certificate_gets_no_user_api(cluster, busy):
    handle, run, _ = busy
    with node_client(cluster, handle) as node:
        calls = {
            "SubmitRun": lambda: node.submit_run(RunSpec("p", ("true",), runtime="process")),
            "CancelRun": lambda: node.cancel_run(run.id),
            "ListRuns": lambda: node.list_runs("p"),
            "GetRun": lambda: node.get_run(run.id),
            "ListProjects": lambda: node.list_projects(),
            "CreateUser": lambda: node.create_user("mallory", "a-long-password-1"),
            "ListNodes": lambda: node.list_nodes(),
            "CreateJoinToken": lambda: node.create_join_token(),
            "ListAudit": lambda: node.list_audit(),
            "ListSnapshots": lambda: node.list_snapshots("p"),
            "ReadLogs": lambda: list(node.read_logs(run.id)),
        }
        for name, call in calls.items():
            with pytest.raises(PermissionDenied, match=f"{AGENT_LINK_ONLY}; {name} needs a signed-in user"):
                call()
    assert str(cluster.admin.get_run(run.id).state) == "running"  # the cancel changed nothing
    assert [r.id for r in cluster.admin.list_runs("p")] == [run.id]
    assert "mallory" not in {u.name for u in cluster.admin.list_users()}


def test_a_node_reads_only_the_snapshots_and_blobs_its_runs_read_now(cluster, busy):
    handle, run, snaps = busy
    with node_client(cluster, handle) as node:
        assert {e.path for e in node.get_snapshot(snaps["inputs"], "p")[1]} == {"in.txt"}
        assert {e.path for e in node.get_snapshot(snaps["data"], "p")[1]} == {"rows.csv"}
        assert node.snapshot_info(snaps["inputs"], "p").id == snaps["inputs"]
        wanted = digests(cluster.admin, snaps["inputs"], "p") + digests(cluster.admin, snaps["data"], "p")
        assert b"".join(p.data for p in node.read_blobs("p", wanted)) == b"the input\na,b\n"
        # the same project, a snapshot no run of n1 reads: neither its manifest nor its blobs
        with pytest.raises(PermissionDenied, match="runs nothing that reads snapshot"):
            node.get_snapshot(snaps["other"], "p")
        with pytest.raises(PermissionDenied, match="runs nothing that reads snapshot"):
            node.snapshot_info(snaps["other"], "p")
        with pytest.raises(PermissionDenied, match="runs nothing that reads blob"):
            list(node.read_blobs("p", digests(cluster.admin, snaps["other"], "p")))
        # another project: nothing
        with pytest.raises(PermissionDenied, match="runs nothing in project 'q'"):
            node.get_snapshot(snaps["q"], "q")
        with pytest.raises(PermissionDenied, match="runs nothing in project 'q'"):
            list(node.read_blobs("q", digests(cluster.admin, snaps["q"], "q")))
        cluster.admin.cancel_run(run.id)
        cluster.wait_run(run.id)
        # once the run is over, not even its input
        with pytest.raises(PermissionDenied, match="runs nothing"):
            node.get_snapshot(snaps["inputs"], "p")


def test_a_node_writes_outputs_and_lists_datasets_only_in_its_runs_projects(cluster, busy, tmp_path: Path):
    handle, run, _ = busy
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "made.txt").write_text("an output\n")
    with node_client(cluster, handle) as node:
        made = push(node, out, "p", "output", tmp_path / "cache-p").snapshot  # find, upload, create
        assert [v.name for v in node.list_datasets("p")] == ["d"]
        with pytest.raises(PermissionDenied, match="runs nothing in project 'q'"):
            node.find_missing_blobs("q", [("0" * 64, 1)])
        with pytest.raises(PermissionDenied, match="runs nothing in project 'q'"):
            push(node, out, "q", "output", tmp_path / "cache-q")
        with pytest.raises(PermissionDenied, match="runs nothing in project 'q'"):
            node.list_datasets("q")
    assert {e.path for e in cluster.admin.get_snapshot(made.id, "p")[1]} == {"made.txt"}
    assert cluster.admin.list_snapshots("q") and all(s.project == "q" for s in cluster.admin.list_snapshots("q"))
    assert len(cluster.admin.list_snapshots("q")) == 1  # nothing was recorded in q
