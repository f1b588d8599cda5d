"""`kiln workspace …` as a person types it, against a real cluster and a real Jupyter server."""

from __future__ import annotations

import json
import sys

import pytest

from tests.compute.conftest import Cluster
from tests.conftest import Cli, wait_until
from tests.workspaces.test_workspaces import ENV, cluster  # noqa: F401 - the fixture


def test_start_list_show_save_promote_and_stop(cluster: Cluster, cli: Cli) -> None:  # noqa: F811
    cli.sign_in(cluster.coordinator)
    started = json.loads(cli.ok("workspace", "start", "nb", "-p", "p", "--python", str(ENV / "bin" / "python"),
                                "--cpus", "0.5", "--runtime", "process", "--idle", "3h", "--json"))  # fmt: skip
    assert started["name"] == "nb" and started["idle_limit_s"] == 3 * 3600 and started["owner"] == "admin"
    again = cli("workspace", "start", "nb", "-p", "p")
    assert again.code == 1 and "stop it first" in again.err
    wait_until(
        lambda: json.loads(cli.ok("workspace", "show", "nb", "-p", "p", "--json"))["state"] == "running", 60, "running"
    )
    wait_until(lambda: cluster.admin.get_workspace("p", "nb").port, 60, "the tool")
    [listed] = json.loads(cli.ok("workspace", "list", "-p", "p", "--json"))
    assert (listed["name"], listed["tool"], listed["node"]) == ("nb", "jupyter-server", "n1")
    assert "saved workspace nb as snapshot" in cli.ok("workspace", "save", "nb", "-p", "p", "-m", "first")
    promoted = cli(
        "run", "-p", "p", "--from-workspace", "nb", "--runtime", "process", "--follow", "--", "cat", "README.md"
    )
    assert promoted.code == 0 and "notes" in promoted.out
    stopped = json.loads(cli.ok("workspace", "stop", "nb", "-p", "p", "--json"))
    assert stopped["last_saved"] and stopped["stop_reason"] == "stopped by admin" and stopped["state"] == "stopping"
    wait_until(lambda: "no workspaces" in cli.ok("workspace", "list", "-p", "p"), 30, "the workspace to end")
    assert len(json.loads(cli.ok("workspace", "list", "-p", "p", "--all", "--json"))) == 1
    missing = cli("workspace", "show", "nope", "-p", "p")
    assert missing.code == 1 and "no workspace 'nope'" in missing.err


def test_a_tool_missing_from_the_interpreter_is_said_plainly(cluster: Cluster, cli: Cli) -> None:  # noqa: F811
    cli.sign_in(cluster.coordinator)
    cli.ok("workspace", "start", "bare", "-p", "p", "--python", sys.executable, "--runtime", "process", "--cpus", "0.2")
    wait_until(lambda: cluster.admin.get_workspace("p", "bare").state == "failed", 60, "the launcher to give up")
    shown = cli.ok("workspace", "show", "bare", "-p", "p")
    assert "is not installed for" in shown and "--env NAME" in shown
    opened = cli("workspace", "open", "bare", "-p", "p", "--no-browser")
    assert opened.code == 1 and "no module jupyter_server" in opened.err


def test_bad_workspace_requests_are_refused_and_change_nothing(cluster: Cluster) -> None:  # noqa: F811
    from kiln.core.errors import InvalidArgument, NotFound
    from kiln.core.runs import Resources, RunSpec

    spec = RunSpec("p", (), runtime="process", resources=Resources(0.2))
    admin = cluster.admin
    for name, tool, python, idle, fragment in (
        ("Bad Name", "jupyter-server", "", 0, "invalid workspace name"),
        ("nb", "vscode", "", 0, "unknown tool"),
        ("nb", "jupyter-server", "p" * 7000, 0, "python"),
        ("nb", "jupyter-server", "", -1, "idle limit"),
        ("nb", "jupyter-server", "", 10**9, "idle limit"),
    ):
        with pytest.raises(InvalidArgument, match=fragment):
            admin.start_workspace("p", name, spec, tool, python, idle)
    assert admin.list_workspaces("p", everything=True) == [] and admin.list_runs("p") == []
    with pytest.raises(NotFound):
        admin.save_workspace("p", "nb")
    with pytest.raises(NotFound):
        admin.start_workspace("nope", "nb", spec)
