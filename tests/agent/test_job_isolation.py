"""The pieces of job isolation on their own: job users (taken once, given back with their processes
killed), the private view's plan (what is hidden above a job's own folders), what a Docker job may be
given, and the probe line that says what a node's process jobs can reach."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kiln.agent.runtimes import JobSpec, Mount
from kiln.agent.runtimes.docker import check_binds
from kiln.agent.runtimes.jobuser import JOB_UID_BASE, JobUsers, kill_user, uid_base
from kiln.agent.runtimes.process import closed_above, isolation_summary
from kiln.core.errors import InvalidArgument
from tests.conftest import wait_until

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="job users exist where the agent is root")


def test_a_job_user_is_taken_once_and_given_back(tmp_path: Path) -> None:
    users = JobUsers(tmp_path / "uids")
    first, second = users.take("process r-1.1"), users.take("docker kiln-r-2-1")
    assert (first, second) == (JOB_UID_BASE, JOB_UID_BASE + 1)
    assert JobUsers(tmp_path / "uids").take("process r-3.1") == JOB_UID_BASE + 2  # another runtime, same record
    assert users.taken()[first] == "process r-1.1"
    users.give_back(first)
    assert users.take("process r-4.1") == first and (tmp_path / "uids").stat().st_mode & 0o777 == 0o700


def test_the_uid_range_can_be_moved_but_not_onto_people_or_root() -> None:
    assert uid_base({}) == JOB_UID_BASE and uid_base({"KILN_AGENT_JOB_UID_BASE": "500000"}) == 500000
    with pytest.raises(ValueError, match="must be a uid from 1000"):
        uid_base({"KILN_AGENT_JOB_UID_BASE": "0"})


@root_only
def test_giving_a_user_back_kills_every_process_it_left(tmp_path: Path) -> None:
    uid = JOB_UID_BASE - 4242  # outside the range: no job of this host has it
    # a job's leftover that left its process group and session: only its uid says whose it is
    leftover = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 600"], user=uid, group=uid, extra_groups=[], start_new_session=True
    )
    mine = subprocess.Popen(["/bin/sh", "-c", "sleep 600"])  # the agent's own: untouched
    try:
        kill_user(uid)
        wait_until(lambda: leftover.poll() is not None, 30, "the leftover to be killed")
        assert leftover.returncode == -9 and mine.poll() is None
    finally:
        for p in (leftover, mine):
            p.kill()
            p.wait()


def test_the_view_hides_the_topmost_private_folder_above_a_jobs_own() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as top:  # /tmp itself is open to all
        os.chmod(top, 0o755)
        private = Path(top) / "private"
        (private / "inner" / "work").mkdir(parents=True)
        private.chmod(0o700)
        (private / "inner").chmod(0o700)
        # the topmost one: the way below it is made afresh in the view
        assert closed_above(str(private / "inner" / "work")) == str(private)
        (Path(top) / "open").mkdir()
        assert closed_above(str(Path(top) / "open" / "x")) == ""
    assert closed_above("/usr/bin/python3") == ""


def test_a_container_is_never_given_the_agents_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "agent"
    work = data / "runs" / "r.1" / "work"
    spec = JobSpec("r", 1, ["true"], work, image="img", mounts=(Mount(data / "sdk" / "sdk-1", "/kiln/sdk"),))
    check_binds(spec, (data,))  # its own parts of it: fine
    for host in (data, tmp_path, Path("/")):
        bad = JobSpec("r", 1, ["true"], work, image="img", mounts=(Mount(host, "/data"),))
        with pytest.raises(InvalidArgument, match="would give the job the agent's data folder"):
            check_binds(bad, (data,))


def test_the_probe_line_says_what_a_process_job_can_reach() -> None:
    full = isolation_summary("", "")
    if os.geteuid() == 0:
        assert full.startswith("read-only mounts in a mount namespace, as users of their own")
        assert full.endswith("network none by a network namespace")
    off = isolation_summary("turned off (KILN_AGENT_NO_NAMESPACES is set)", "no user namespaces here")
    assert "no mount namespace: turned off" in off and "can read the agent's data folder" in off
    assert off.endswith("network none refused: no user namespaces here")


def test_the_supervisor_runs_the_job_as_its_user_without_new_privileges(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("job users exist where the agent is root")
    import json

    jobdir = tmp_path / "job"
    jobdir.mkdir()
    for stream in ("stdout", "stderr"):
        (jobdir / stream).touch()
    uid = JOB_UID_BASE - 4343  # outside the range: no job of this host has it
    script = "id -u; id -g; id -G; grep NoNewPrivs /proc/self/status"
    spec = {"command": ["sh", "-c", script], "workdir": "/", "env": {"PATH": "/usr/bin:/bin"}, "uid": uid}
    (jobdir / "spec.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "kiln.agent.runtimes.supervise", str(jobdir)], timeout=60, check=True)
    lines = (jobdir / "stdout").read_text().split("\n")
    assert lines[:3] == [str(uid)] * 3 and lines[3].split() == ["NoNewPrivs:", "1"], (jobdir / "stderr").read_text()
