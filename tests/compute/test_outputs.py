"""A run's output snapshot through a real coordinator and agent, on each runtime: what the run left in its
folder whatever .gitignore says, without caches and what .kilnoutputignore names, always with what it
logged, nothing when it changed nothing, and never over the node's cap. Docker runs drive it with shell
commands (the test image has no Python); the SDK is driven in the process runtime."""

from __future__ import annotations

import logging
import sys

import pytest

from kiln.core.runs import RunSpec
from kiln.sync.pull import pull
from tests.compute.conftest import BUSYBOX, Cluster, push_folder

RUNTIMES = ["process", "docker"]
GITIGNORE = "out/\nplots/\n"


@pytest.fixture(params=RUNTIMES)
def runtime(request):  # type: ignore[no-untyped-def]
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
    return request.param


def shell(cluster: Cluster, runtime: str, files: dict[str, str], command: str):  # type: ignore[no-untyped-def]
    snap = push_folder(cluster, files)
    image = BUSYBOX if runtime == "docker" else ""
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", command), snap, image, runtime))
    return cluster.wait_run(run.id)


def python(cluster: Cluster, script: str, files: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    snap = push_folder(cluster, {"train.py": script, **(files or {})})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap))
    return cluster.wait_run(run.id)


def output_paths(cluster: Cluster, run) -> set[str]:  # type: ignore[no-untyped-def]
    _, entries = cluster.admin.get_snapshot(run.output_snapshot, "p")
    return {e.path for e in entries if e.kind != "dir"}


def test_ignored_folders_are_outputs_and_caches_are_not(cluster: Cluster, runtime: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster.agent("n1", runtimes=(runtime,))
    done = shell(
        cluster,
        runtime,
        {".gitignore": GITIGNORE, "train.sh": "true\n"},
        "mkdir -p out/model plots __pycache__ sub/__pycache__ .ipynb_checkpoints"
        " && echo weights > out/model/weights.bin && echo png > plots/loss.png"
        " && echo pyc > __pycache__/train.pyc && echo pyc > sub/__pycache__/m.pyc"
        " && echo nb > .ipynb_checkpoints/a.ipynb && echo kept > sub/result.txt",
    )
    assert str(done.state) == "succeeded", done.reason
    assert output_paths(cluster, done) == {
        ".gitignore",
        "train.sh",
        "out/model/weights.bin",
        "plots/loss.png",
        "sub/result.txt",
    }
    pull(cluster.admin, done.output_snapshot, tmp_path / "copy", "p")
    assert (tmp_path / "copy" / "out" / "model" / "weights.bin").read_text() == "weights\n"
    model = cluster.admin.register_model(done.id, "out/model", "m")
    assert (model.name, model.version) == ("m", 1)


def test_kilnoutputignore_at_any_level_leaves_paths_out(cluster: Cluster, runtime: str) -> None:
    cluster.agent("n1", runtimes=(runtime,))
    done = shell(
        cluster,
        runtime,
        {".kilnoutputignore": "scratch/\n*.tmp\n", "sub/.kilnoutputignore": "cache/\n", "sub/keep.txt": "k"},
        "mkdir -p scratch sub/cache && echo x > scratch/big.bin && echo x > a.tmp && echo x > sub/cache/c"
        " && echo x > sub/new.txt && echo x > cache.txt",
    )
    assert str(done.state) == "succeeded", done.reason
    assert output_paths(cluster, done) == {
        ".kilnoutputignore",
        "sub/.kilnoutputignore",
        "sub/keep.txt",
        "sub/new.txt",
        "cache.txt",
    }


def test_a_run_that_changes_nothing_has_no_output(cluster: Cluster, runtime: str) -> None:
    cluster.agent("n1", runtimes=(runtime,))
    # Reading, writing caches, and rewriting an excluded file it started with change nothing it outputs.
    done = shell(
        cluster,
        runtime,
        {"input.txt": "in\n", ".kilnoutputignore": "data/\n", "data/raw.csv": "a\n"},
        "cat input.txt && mkdir -p __pycache__ && echo pyc > __pycache__/x.pyc && echo b >> data/raw.csv",
    )
    assert str(done.state) == "succeeded", done.reason
    assert done.output_snapshot == ""
    assert cluster.output(done.id) == "in\n"


def test_logged_paths_are_outputs_whatever_the_exclusions(cluster: Cluster) -> None:
    cluster.agent("n1")
    done = python(
        cluster,
        "import os, kiln.track as kt\n"
        "os.makedirs('scratch/model', exist_ok=True)\n"
        "open('scratch/model/w.bin', 'w').write('w')\n"
        "open('scratch/junk.bin', 'w').write('j')\n"
        "open('notes.tmp', 'w').write('n')\n"
        "kt.log_model('scratch/model', name='m')\n"
        "kt.log_artifact('notes.tmp')\n",
        {".kilnoutputignore": "scratch/\n*.tmp\n"},
    )
    assert str(done.state) == "succeeded", cluster.output(done.id)
    assert output_paths(cluster, done) == {".kilnoutputignore", "train.py", "scratch/model/w.bin", "notes.tmp"}
    assert cluster.admin.register_model(done.id, "scratch/model", "m").version == 1


def test_logging_a_missing_path_raises_at_once_and_sends_nothing(cluster: Cluster) -> None:
    cluster.agent("n1")
    done = python(
        cluster,
        "import kiln.track as kt\n"
        "for call in (lambda: kt.log_artifact('plots/loss.png'), lambda: kt.log_model('out/model')):\n"
        "    try:\n"
        "        call()\n"
        "    except FileNotFoundError as e:\n"
        "        print(e)\n",
    )
    assert str(done.state) == "succeeded", cluster.output(done.id)
    assert cluster.output(done.id).splitlines() == [
        "kiln.track: cannot log artifact plots/loss.png (in the run folder): no such file or folder",
        "kiln.track: cannot log model out/model (in the run folder): no such file or folder",
    ]
    record = cluster.admin.run_record(done.id)
    assert record.artifacts == [] and record.models == []


def test_a_logged_path_gone_at_the_end_is_named_in_the_reason(cluster: Cluster) -> None:
    cluster.agent("n1")
    done = python(
        cluster,
        "import os, shutil, kiln.track as kt\n"
        "os.makedirs('plots', exist_ok=True)\n"
        "open('plots/loss.png', 'w').write('png')\n"
        "open('kept.txt', 'w').write('k')\n"
        "kt.log_artifact('plots/loss.png')\n"
        "kt.log_artifact('kept.txt')\n"
        "kt.flush()\n"
        "os.remove('plots/loss.png')\n",
    )
    assert (str(done.state), done.exit_code) == ("succeeded", 0)
    assert "logged artifact plots/loss.png is gone at the end of the run" in done.reason
    assert "kept.txt" not in done.reason
    assert "kept.txt" in output_paths(cluster, done)


def test_outputs_over_the_node_cap_are_not_saved_and_the_reason_says_why(cluster: Cluster, runtime: str) -> None:
    node = cluster.agent("n1", runtimes=(runtime,))
    node.agent.context.max_output_bytes = 2048  # as `kiln agent --max-output-bytes 2K` would set it
    done = shell(cluster, runtime, {"in.txt": "x" * 4096}, "cat in.txt > copy.txt && echo small > a.txt")
    assert (str(done.state), done.exit_code) == ("succeeded", 0)
    assert done.output_snapshot == ""
    assert (
        "outputs not saved: the run created or changed 4.0 KiB of files in its folder, over this node's cap of "
        "2.0 KiB; leave out what need not be kept with a .kilnoutputignore file, or ask IT to raise the "
        "agent's --max-output-bytes" in done.reason
    )
    # Under the cap, the same node saves them.
    small = shell(cluster, runtime, {"in.txt": "y" * 4096}, "echo small > a.txt")
    assert "a.txt" in output_paths(cluster, small)


def test_a_run_that_cannot_start_is_one_warning_line_in_the_agent_log(
    cluster: Cluster, docker_ready: None, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.agent("n1", runtimes=("docker",))
    snap = push_folder(cluster, {"x": "x"})
    caplog.set_level(logging.INFO, logger="kiln.agent")
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "true"), snap, "kiln-test/no-such-image:1", "docker"))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "failed"
    assert done.reason.startswith("could not start: image 'kiln-test/no-such-image:1' is not on this node")
    about = [r for r in caplog.records if r.levelno >= logging.WARNING and run.id in r.getMessage()]
    assert [(r.levelname, r.exc_info) for r in about] == [("WARNING", None)]
    assert about[0].getMessage() == f"run {run.id} {done.reason}"
    assert "\n" not in about[0].getMessage()


def test_a_start_failing_for_the_node_s_own_trouble_keeps_its_traceback(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    node = cluster.agent("n1")
    (node.agent.config.data / "runs").write_text("not a folder")  # where job folders go: the node is broken
    snap = push_folder(cluster, {"x": "x"})
    caplog.set_level(logging.INFO, logger="kiln.agent")
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "true"), snap))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "failed" and done.reason.startswith("could not start: ")
    about = [r for r in caplog.records if r.levelno >= logging.WARNING and run.id in r.getMessage()]
    assert [r.levelname for r in about] == ["ERROR"] and about[0].exc_info is not None


def test_a_bad_output_cap_is_refused_before_the_agent_starts(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "agent"
    result = cli("agent", "--coordinator", "127.0.0.1:1", "--data", data, "--max-output-bytes", "lots")
    assert result.code != 0 and not data.exists()
    assert result.err.strip().splitlines() == ["error: --max-output-bytes: not a size: 'lots' (use e.g. 512M, 4G)"]


def test_what_a_snapshot_cannot_hold_is_left_out_and_named_not_the_whole_output(cluster: Cluster, runtime: str):
    """A program that links a dataset into its folder (or leaves a fifo) still gets its outputs saved."""
    cluster.agent("n1", runtimes=(runtime,))
    done = shell(
        cluster,
        runtime,
        {"train.sh": "true\n"},
        "mkdir -p out && echo result > out/result.txt && ln -s /etc out/etc && mkfifo out/pipe",
    )
    assert str(done.state) == "succeeded"
    assert output_paths(cluster, done) == {"train.sh", "out/result.txt"}
    assert "left out of the outputs, which a snapshot cannot hold:" in done.reason
    assert "out/etc (a link that points outside the folder)" in done.reason
    assert "out/pipe (a device, fifo or socket)" in done.reason
