"""The agent's runtimes against the real thing: processes on this machine, containers on a real Docker
engine (`scripts/setup-test-host` starts one and builds the test image; without it these tests skip on a
laptop and fail in CI). Jobs synchronise with the test through files in their working folder, never
through sleeps, and no timing is asserted.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kiln.agent.runtimes import (
    JobHandle,
    JobSpec,
    Mount,
    Runtime,
    RuntimeUnavailable,
    available_runtimes,
    get_runtime,
)
from kiln.agent.runtimes.docker import PROBE_TIMEOUT_S, DockerRuntime, connect, container_config, exit_reason
from kiln.agent.runtimes.jobuser import JOB_UID_BASE
from kiln.core.errors import FailedPrecondition
from tests.conftest import need, wait_until

IMAGE = "kiln-test/busybox:1"
JOB_TIMEOUT_S = 60.0
# A job waits for this file in its working folder: the test's way of holding it mid-run.
GO = "go"
WAIT_FOR_GO = f"while [ ! -e {GO} ]; do sleep 0.05; done"


class Recorder:
    """A job's events as the runtime's threads deliver them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._out = {"stdout": bytearray(), "stderr": bytearray()}
        self._exits: list[tuple[int, str]] = []

    def output(self, stream: str, data: bytes) -> None:
        with self._lock:
            self._out[stream] += data

    def exited(self, exit_code: int, reason: str) -> None:
        with self._lock:
            self._exits.append((exit_code, reason))

    def data(self, stream: str) -> bytes:
        with self._lock:
            return bytes(self._out[stream])

    def text(self, stream: str) -> str:
        return self.data(stream).decode()

    @property
    def exits(self) -> list[tuple[int, str]]:
        with self._lock:
            return list(self._exits)

    def wait_exit(self) -> tuple[int, str]:
        wait_until(lambda: self.exits, JOB_TIMEOUT_S, "the job's exit")
        return self.exits[0]

    def wait_output(self, stream: str, text: str) -> None:
        wait_until(lambda: text in self.text(stream), JOB_TIMEOUT_S, f"{text!r} on {stream}")


class Jobs:
    """One runtime kind in a test: builds specs, starts jobs, and cleans up every job it started."""

    def __init__(self, kind: str, state_dir: Path, workdir: Path) -> None:
        self.kind = kind
        self.state_dir = state_dir
        self.workdir = workdir
        self.runtime = self.new_runtime()
        self.started: list[tuple[Runtime, JobHandle, Recorder]] = []

    def new_runtime(self) -> Runtime:
        """What a restarted agent does: a fresh instance on the same state folder."""
        return get_runtime(self.kind)(self.state_dir)

    def spec(self, script: str, **fields: object) -> JobSpec:
        image = IMAGE if self.kind == "docker" else ""
        spec = JobSpec(
            run_id=f"t-{uuid.uuid4().hex[:12]}",
            attempt=1,
            command=["sh", "-c", script],
            workdir=self.workdir,
            image=image,
            network="none",
        )
        return replace(spec, **fields)  # type: ignore[arg-type]

    def start(self, script: str, **fields: object) -> tuple[JobHandle, Recorder]:
        recorder = Recorder()
        handle = self.runtime.start(self.spec(script, **fields), recorder)
        self.started.append((self.runtime, handle, recorder))
        return handle, recorder

    def go(self) -> None:
        (self.workdir / GO).touch()

    def cleanup(self) -> None:
        for runtime, handle, recorder in self.started:
            if not recorder.exits:
                runtime.cancel(handle, 0)
            runtime.reap(handle)


def docker_or_skip() -> None:
    try:
        DockerRuntime.probe()
    except RuntimeUnavailable as e:
        need(False, f"a Docker engine ({e}); run scripts/setup-test-host")
    client = connect(PROBE_TIMEOUT_S)
    try:
        present = bool(client.images.list(name=IMAGE))
    finally:
        client.close()
    need(present, f"the image {IMAGE} (scripts/setup-test-host builds it)")


@pytest.fixture(params=["process", "docker"])
def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Jobs]:
    if request.param == "docker":
        docker_or_skip()
    workdir = tmp_path / "work"
    workdir.mkdir()
    helper = Jobs(request.param, tmp_path / "state", workdir)
    yield helper
    helper.cleanup()


@pytest.fixture
def docker_jobs(tmp_path: Path) -> Iterator[Jobs]:
    docker_or_skip()
    workdir = tmp_path / "work"
    workdir.mkdir()
    helper = Jobs("docker", tmp_path / "state", workdir)
    yield helper
    helper.cleanup()


@pytest.fixture
def process_jobs(tmp_path: Path) -> Iterator[Jobs]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    helper = Jobs("process", tmp_path / "state", workdir)
    yield helper
    helper.cleanup()


def numbered(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, count + 1))


# --- both runtimes ---------------------------------------------------------------------------------------


def test_output_is_complete_and_ordered_per_stream(jobs: Jobs) -> None:
    script = "for i in $(seq 1 2000); do echo out$i; echo err$i >&2; done; seq 1 50000"
    _, rec = jobs.start(script)
    assert rec.wait_exit() == (0, "")
    assert rec.text("stdout") == numbered("out", 2000) + numbered("", 50000)
    assert rec.text("stderr") == numbered("err", 2000)
    assert len(rec.exits) == 1


def test_a_failing_job_reports_its_exit_code(jobs: Jobs) -> None:
    _, rec = jobs.start("echo failing >&2; exit 3")
    assert rec.wait_exit() == (3, "")
    assert rec.text("stderr") == "failing\n"


def test_environment_variables_reach_the_job(jobs: Jobs) -> None:
    _, rec = jobs.start('echo "$GREETING|$OTHER"', env={"GREETING": "hello world", "OTHER": "a=b"})
    assert rec.wait_exit() == (0, "")
    assert rec.text("stdout") == "hello world|a=b\n"


def test_the_job_runs_in_the_working_folder_and_its_files_stay_there(jobs: Jobs) -> None:
    (jobs.workdir / "input.txt").write_text("snapshot contents\n")
    _, rec = jobs.start("cat input.txt; pwd; mkdir -p out && echo result > out/model.txt")
    assert rec.wait_exit() == (0, "")
    expected_pwd = "/work" if jobs.kind == "docker" else str(jobs.workdir)
    assert rec.text("stdout") == f"snapshot contents\n{expected_pwd}\n"
    produced = jobs.workdir / "out" / "model.txt"
    assert produced.read_text() == "result\n"
    # The agent can upload and delete it: its own user's file, or, for an agent that is root, the job user's.
    owner = produced.stat().st_uid
    assert owner == os.getuid() or (os.geteuid() == 0 and owner >= JOB_UID_BASE)


def test_cancel_lets_a_job_that_traps_term_finish_cleanly(jobs: Jobs) -> None:
    handle, rec = jobs.start("trap 'echo stopping; exit 0' TERM; echo ready; sleep 1000 & wait")
    rec.wait_output("stdout", "ready\n")
    jobs.runtime.cancel(handle, grace_s=60)
    assert rec.wait_exit() == (0, "cancelled")
    assert rec.text("stdout") == "ready\nstopping\n"


def test_cancel_kills_a_job_that_ignores_term_after_the_grace_period(jobs: Jobs) -> None:
    handle, rec = jobs.start("trap '' TERM; echo ready; while true; do sleep 1; done")
    rec.wait_output("stdout", "ready\n")
    jobs.runtime.cancel(handle, grace_s=1)
    assert rec.wait_exit() == (137, "cancelled")
    assert len(rec.exits) == 1


def test_a_restarted_agent_reattaches_and_gets_exactly_the_remaining_output(jobs: Jobs) -> None:
    script = f"seq 1 1000; echo e1 >&2; echo e2 >&2; {WAIT_FOR_GO}; seq 1001 3000; echo e3 >&2; exit 5"
    handle, first = jobs.start(script)
    first.wait_output("stderr", "e2\n")
    wait_until(lambda: first.text("stdout").endswith("\n1000\n"), JOB_TIMEOUT_S, "the first part")

    # The agent "dies" here having delivered some of what it read; a new one finds the job by itself.
    restarted = jobs.new_runtime()
    found = [h for h in restarted.running() if h.run_id == handle.run_id]
    assert found == [handle]
    delivered = {"stdout": len(first.data("stdout")) - 4, "stderr": 3}
    second = Recorder()
    restarted.attach(found[0], second, delivered)
    jobs.go()

    assert second.wait_exit() == (5, "")
    assert second.text("stdout") == numbered("", 3000)[delivered["stdout"] :]
    assert second.text("stderr") == "e1\ne2\ne3\n"[3:]
    assert len(second.exits) == 1


def test_a_job_that_ended_while_the_agent_was_down_is_reported_on_attach(jobs: Jobs) -> None:
    handle, first = jobs.start("echo done; echo warned >&2; exit 7")
    first.wait_exit()

    restarted = jobs.new_runtime()
    assert handle in restarted.running()
    second = Recorder()
    restarted.attach(handle, second, {"stdout": 2})
    assert second.wait_exit() == (7, "")
    assert second.text("stdout") == "ne\n"
    assert second.text("stderr") == "warned\n"


def test_reap_removes_what_is_left_of_a_job(jobs: Jobs) -> None:
    handle, rec = jobs.start("echo bye")
    rec.wait_exit()
    jobs.runtime.reap(handle)
    assert handle not in jobs.runtime.running()
    assert handle not in jobs.new_runtime().running()
    if jobs.kind == "process":
        assert not Path(handle.ref).exists()


def test_registry_lists_the_builtin_runtimes(jobs: Jobs) -> None:
    assert jobs.kind in available_runtimes()
    assert type(jobs.runtime).name == jobs.kind


# --- docker ----------------------------------------------------------------------------------------------


def inspect(jobs: Jobs, handle: JobHandle) -> dict[str, object]:
    assert isinstance(jobs.runtime, DockerRuntime)
    return jobs.runtime.api.inspect_container(handle.ref)  # type: ignore[no-any-return]


def test_docker_probe_names_the_engine(docker_jobs: Jobs) -> None:
    assert DockerRuntime.probe().startswith("Docker ")
    assert "engine at " in DockerRuntime.probe()


def test_docker_container_carries_labels_network_user_and_limits(docker_jobs: Jobs) -> None:
    fields = {"cpus": 0.5, "memory_bytes": 64 * 1024**2, "labels": {"kiln.project": "demo"}}
    handle, rec = docker_jobs.start("exit 0", **fields)
    rec.wait_exit()
    info = inspect(docker_jobs, handle)
    config, host = info["Config"], info["HostConfig"]
    labels = config["Labels"]  # type: ignore[index]
    assert labels["kiln.run"] == handle.run_id
    assert labels["kiln.attempt"] == "1"
    assert labels["kiln.project"] == "demo"
    uid, gid = (int(x) for x in config["User"].split(":"))  # type: ignore[index]
    if os.geteuid() == 0:  # a job user of its own, never root
        assert uid == gid and uid >= JOB_UID_BASE
    else:  # the agent's own user
        assert (uid, gid) == (os.getuid(), os.getgid())
    assert host["NetworkMode"] == "none"  # type: ignore[index]
    assert host["NanoCpus"] == 500_000_000  # type: ignore[index]
    assert host["Memory"] == 64 * 1024**2  # type: ignore[index]
    assert host["AutoRemove"] is False  # type: ignore[index]


def test_docker_mounts_are_bound_read_only_when_asked(docker_jobs: Jobs, tmp_path: Path) -> None:
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n")
    mounts = (Mount(data, "/data", read_only=True),)
    _, rec = docker_jobs.start("cat /data/rows.csv; touch /data/new 2>/dev/null || echo read-only", mounts=mounts)
    assert rec.wait_exit() == (0, "")
    assert rec.text("stdout") == "a,b\nread-only\n"
    assert not (data / "new").exists()


def test_docker_runs_the_image_it_records_even_when_its_tag_moves(docker_jobs: Jobs) -> None:
    client = connect(PROBE_TIMEOUT_S)
    tag = f"kiln-test/moving:{uuid.uuid4().hex[:8]}"
    original = client.images.get(IMAGE)
    original.tag(tag)
    try:
        handle, rec = docker_jobs.start(f"{WAIT_FOR_GO}; echo ran", image=tag)
        # The tag now names another image; the job is still the one it was started from.
        other = client.images.build(fileobj=io.BytesIO(f"FROM {IMAGE}\nLABEL moved=yes\n".encode()), rm=True)[0]
        other.tag(tag)
        docker_jobs.go()
        assert rec.wait_exit() == (0, "")
        assert inspect(docker_jobs, handle)["Image"] == original.id
        facts = docker_jobs.runtime.environment(handle)
        assert facts == {"runtime": "docker", "image": tag, "image_id": original.id, "image_digests": ""}
        # A restarted agent (no memory of the start) reads the same facts back from the container.
        assert docker_jobs.new_runtime().environment(handle) == facts
    finally:
        client.images.remove(tag, force=True)
        client.close()


def test_docker_missing_image_is_a_clear_failed_precondition(docker_jobs: Jobs) -> None:
    spec = docker_jobs.spec("true", image="kiln-test/no-such-image:0")
    with pytest.raises(FailedPrecondition, match="kiln-test/no-such-image:0.*not on this node"):
        docker_jobs.runtime.start(spec, Recorder())


def test_docker_reports_an_out_of_memory_kill(docker_jobs: Jobs) -> None:
    # Engine 20.10 (cgroup v1) watches for OOM only once the container runs: an OOM in its first
    # milliseconds can go unrecorded. The job waits until its output has reached us before it grows.
    script = f'echo ready; {WAIT_FOR_GO}; x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo ${{#x}}'
    _, rec = docker_jobs.start(script, memory_bytes=16 * 1024**2)
    rec.wait_output("stdout", "ready\n")
    docker_jobs.go()
    assert rec.wait_exit() == (137, "oom-killed")


def test_docker_reaped_container_is_gone(docker_jobs: Jobs) -> None:
    import docker.errors

    handle, rec = docker_jobs.start("true")
    rec.wait_exit()
    docker_jobs.runtime.reap(handle)
    with pytest.raises(docker.errors.NotFound):
        inspect(docker_jobs, handle)


def test_container_config_requests_exactly_the_given_gpus(tmp_path: Path) -> None:
    pytest.importorskip("docker")
    spec = JobSpec("r1", 2, ["python", "train.py"], tmp_path, image="img", gpu_uuids=("GPU-aaa", "GPU-bbb"))
    config = container_config(spec, 1000, 1000)
    [request] = config["device_requests"]
    assert request["Driver"] == "nvidia"
    assert request["DeviceIDs"] == ["GPU-aaa", "GPU-bbb"]
    assert request["Capabilities"] == [["gpu"]]
    assert config["user"] == "1000:1000"
    assert config["working_dir"] == "/work"
    assert "device_requests" not in container_config(replace(spec, gpu_uuids=()), 0, 0)


def test_container_config_binds_the_workdir_and_mounts(tmp_path: Path) -> None:
    pytest.importorskip("docker")
    mounts = (Mount(tmp_path / "d", "/data"), Mount(tmp_path / "c", "cache", read_only=False))
    spec = JobSpec("r1", 1, ["true"], tmp_path / "w", image="img", mounts=mounts)
    binds = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in container_config(spec, 0, 0)["mounts"]}
    assert binds == {
        "/work": (str(tmp_path / "w"), False),
        "/data": (str(tmp_path / "d"), True),
        "/work/cache": (str(tmp_path / "c"), False),
    }


def test_exit_reason_prefers_a_cancel_over_what_it_caused() -> None:
    assert exit_reason({"OOMKilled": False}, cancelled=False) == ""
    assert exit_reason({"OOMKilled": True}, cancelled=False) == "oom-killed"
    assert exit_reason({"OOMKilled": True}, cancelled=True) == "cancelled"


# --- process ---------------------------------------------------------------------------------------------


def test_process_job_sees_its_gpus_and_mounts(process_jobs: Jobs, tmp_path: Path) -> None:
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n")
    mounts = (Mount(data, "inputs/data"), Mount(tmp_path / "models", "/models"))
    script = 'echo "$CUDA_VISIBLE_DEVICES"; echo "$KILN_MOUNTS"; cat inputs/data/rows.csv'
    _, rec = process_jobs.start(script, gpu_uuids=("GPU-aaa", "GPU-bbb"), mounts=mounts)
    assert rec.wait_exit() == (0, "")
    gpus, mounts_json, rows = rec.text("stdout").splitlines()
    assert gpus == "GPU-aaa,GPU-bbb"
    assert json.loads(mounts_json) == {"inputs/data": str(data), "/models": str(tmp_path / "models")}
    assert rows == "a,b"
    assert (process_jobs.workdir / "inputs" / "data").resolve() == data


def test_process_job_given_no_gpus_sees_none(process_jobs: Jobs) -> None:
    _, rec = process_jobs.start('echo "[${CUDA_VISIBLE_DEVICES-unset}]"')
    assert rec.wait_exit() == (0, "")
    assert rec.text("stdout") == "[]\n"


def test_process_output_is_byte_exact(process_jobs: Jobs) -> None:
    _, rec = process_jobs.start(r"printf '\377\376\000no newline'")
    assert rec.wait_exit() == (0, "")
    assert rec.data("stdout") == b"\xff\xfe\x00no newline"


def test_process_command_that_cannot_start_exits_127(process_jobs: Jobs) -> None:
    recorder = Recorder()
    spec = replace(process_jobs.spec(""), command=["/nonexistent/kiln-test-command"])
    handle = process_jobs.runtime.start(spec, recorder)
    process_jobs.started.append((process_jobs.runtime, handle, recorder))
    assert recorder.wait_exit() == (127, "")
    assert "/nonexistent/kiln-test-command" in recorder.text("stderr")


def test_process_job_folder_records_the_job(process_jobs: Jobs) -> None:
    handle, rec = process_jobs.start("echo hi")
    rec.wait_exit()
    folder = Path(handle.ref)
    assert folder == process_jobs.state_dir / "jobs" / f"{handle.run_id}.1"
    assert json.loads((folder / "exit.json").read_text()) == {"exit_code": 0, "reason": ""}
    assert (folder / "stdout").read_bytes() == b"hi\n"
    assert json.loads((folder / "spec.json").read_text())["command"] == ["sh", "-c", "echo hi"]


def test_a_job_starts_from_a_clean_environment(jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_HOME", "/root/.kiln-agent")
    monkeypatch.setenv("AGENT_SECRET_TOKEN", "s3cret")
    _, rec = jobs.start("env", env={"GIVEN": "yes"})
    assert rec.wait_exit() == (0, "")
    env = dict(line.split("=", 1) for line in rec.text("stdout").splitlines() if "=" in line)
    assert env["GIVEN"] == "yes"
    assert "AGENT_SECRET_TOKEN" not in env and "KILN_HOME" not in env
    assert "s3cret" not in rec.text("stdout")


def read_only_script(folder: str) -> str:
    """Tries each way of changing `folder`; prints one word per try and what is left."""
    tries = [
        f'echo changed > "{folder}/rows.csv"',
        f'echo new > "{folder}/new.txt"',
        f'rm -f "{folder}/rows.csv"',
        f'chmod u+w "{folder}/rows.csv"',
        f'mkdir "{folder}/sub"',
    ]
    lines = [f"if ({t}) 2>/dev/null; then echo changed; else echo refused; fi" for t in tries]
    return "; ".join([*lines, f'cat "{folder}/rows.csv"'])


def test_process_read_only_mounts_refuse_every_change_even_by_root(process_jobs: Jobs, tmp_path: Path) -> None:
    assert "read-only mounts in a mount namespace" in process_jobs.runtime.probe()
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    mounts = (Mount(data, "/datasets/rows"), Mount(scratch, "/scratch", read_only=False))
    script = read_only_script("$KILN_DATASETS/rows") + '; echo written > "$SCRATCH/out"'
    paths = {"KILN_DATASETS": "/datasets", "SCRATCH": "/scratch"}
    _, rec = process_jobs.start(script, mounts=mounts, paths=paths)
    assert rec.wait_exit() == (0, ""), rec.text("stderr")
    assert rec.text("stdout").splitlines() == ["refused"] * 5 + ["a,b"]
    assert sorted(p.name for p in data.iterdir()) == ["rows.csv"] and (data / "rows.csv").read_text() == "a,b\n"
    assert (scratch / "out").read_text() == "written\n"  # a read-write mount stays writable
    # The binds were the job's alone: the node's folder is writable as before.
    (data / "after.txt").write_text("x")


def test_process_jobs_without_namespaces_when_the_admin_turns_them_off(
    process_jobs: Jobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILN_AGENT_NO_NAMESPACES", "1")
    process_jobs.runtime = process_jobs.new_runtime()
    assert "KILN_AGENT_NO_NAMESPACES" in process_jobs.runtime.probe()
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n")
    handle, rec = process_jobs.start(
        'echo changed > "$KILN_DATASETS/rows/rows.csv"',
        mounts=(Mount(data, "/datasets/rows"),),
        paths={"KILN_DATASETS": "/datasets"},
    )
    assert rec.wait_exit() == (0, "")
    assert (data / "rows.csv").read_text() == "changed\n"  # nothing stops it: the agent's check must (datasets)
    assert json.loads((Path(handle.ref) / "spec.json").read_text())["read_only"] == []


def test_process_job_has_a_home_and_a_temp_folder_of_its_own(process_jobs: Jobs) -> None:
    handle, rec = process_jobs.start('echo "$HOME"; echo "$TMPDIR"; touch "$HOME/.rc" "$TMPDIR/t" && echo ok')
    assert rec.wait_exit() == (0, "")
    home, tmp, ok = rec.text("stdout").splitlines()
    assert (home, tmp, ok) == (str(Path(handle.ref) / "home"), str(Path(handle.ref) / "tmp"), "ok")
    assert home != os.environ.get("HOME")


def test_a_job_promised_read_only_folders_that_cannot_have_them_is_not_started(tmp_path: Path) -> None:
    jobdir = tmp_path / "job"
    jobdir.mkdir()
    for stream in ("stdout", "stderr"):
        (jobdir / stream).touch()
    spec = {"command": ["sh", "-c", "echo ran"], "workdir": str(tmp_path), "env": {"PATH": os.environ["PATH"]}}
    spec["read_only"] = [str(tmp_path / "no-such-folder")]
    (jobdir / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-m", "kiln.agent.runtimes.supervise", str(jobdir)], timeout=JOB_TIMEOUT_S)
    assert done.returncode == 0
    assert json.loads((jobdir / "exit.json").read_text()) == {"exit_code": 126, "reason": ""}
    assert (jobdir / "stdout").read_text() == ""
    assert "cannot make the job's datasets read-only, so it was not started" in (jobdir / "stderr").read_text()
