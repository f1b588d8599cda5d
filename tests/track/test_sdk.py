"""kiln.track end to end: run scripts as real subprocesses with the SDK folder a run gets on PYTHONPATH,
talking to the agent's real socket server. Scripts and the test meet through files in the working
directory, never through sleeps, and no timing is asserted."""

from __future__ import annotations

import glob
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import kiln.track as kt
from kiln.agent.tracking import TrackingServer, prepare_sdk
from tests.conftest import wait_until
from tests.track.conftest import SCRIPT_TIMEOUT_S, Collector, run_script, start_script

EVERYTHING = """
    import os, kiln.track as kt
    kt.log_param("lr", 0.01)
    kt.log_params({"epochs": 3, "optimizer": "adam"})
    kt.set_tag("team", "vision")
    kt.set_tags({"stage": "dev"})
    for epoch in range(3):
        kt.log_metric("loss", 1.0 / (epoch + 1))
    kt.log_metric("acc", 0.5, step=10)
    kt.log_metric("acc", 0.6)
    kt.log_metric("odd", float("nan"), timestamp=1700000000000)
    kt.log_metrics({"p": 1, "r": 2.5}, step=7)
    with open("inside.txt", "w") as f:
        f.write("in")
    kt.log_artifact("inside.txt")
    kt.log_artifact(os.environ["OUTSIDE"], name="copied.txt")
    kt.log_dataset("mnist@3")
    os.makedirs(os.path.join(os.environ["OUTSIDE_DIR"], "weights"), exist_ok=True)
    with open(os.path.join(os.environ["OUTSIDE_DIR"], "weights", "w.bin"), "w") as f:
        f.write("w")
    kt.log_model(os.path.join(os.environ["OUTSIDE_DIR"], "weights"), name="clf", flavor="sklearn")
    print(kt.run_id())
"""


def check_everything(collector: Collector, workdir: Path) -> None:
    batches = collector.all()
    assert [b["seq"] for b in batches] == list(range(1, len(batches) + 1))
    assert "environment" in batches[0] and all("environment" not in b for b in batches[1:])
    env = batches[0]["environment"]
    assert env["python"] and env["platform"]
    packages = env["packages"].splitlines()
    assert all("==" in p for p in packages)
    assert packages == sorted(packages, key=lambda p: re.sub(r"[-_.]+", "-", p.split("==")[0]).lower())
    assert collector.merged("params") == {"lr": "0.01", "epochs": "3", "optimizer": "adam"}
    assert collector.merged("tags") == {"team": "vision", "stage": "dev"}
    assert [(m[1], m[2]) for m in collector.metrics("loss")] == [(1.0, 0), (0.5, 1), (1 / 3, 2)]
    assert [(m[1], m[2]) for m in collector.metrics("acc")] == [(0.5, 10), (0.6, 11)]
    [odd] = collector.metrics("odd")
    assert math.isnan(odd[1]) and odd[2:] == [0, 1700000000000]
    assert [(m[0], m[1], m[2]) for m in collector.metrics() if m[0] in "pr"] == [("p", 1.0, 7), ("r", 2.5, 7)]
    assert all(isinstance(m[3], int) and m[3] > 1_600_000_000_000 for m in collector.metrics())
    assert collector.listed("artifacts") == ["inside.txt", "artifacts/copied.txt"]
    assert (workdir / "artifacts" / "copied.txt").read_text() == "out"
    assert collector.listed("datasets") == ["mnist@3"]
    assert collector.listed("models") == [{"path": "models/clf", "name": "clf", "flavor": "sklearn"}]
    assert (workdir / "models" / "clf" / "w.bin").read_text() == "w"


def outside_files(tmp_path: Path) -> dict[str, str]:
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    (outside / "report.txt").write_text("out")
    return {"OUTSIDE": str(outside / "report.txt"), "OUTSIDE_DIR": str(outside)}


def test_a_run_records_everything_in_order(
    sdk: Path, server: TrackingServer, collector: Collector, workdir: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for key, value in outside_files(tmp_path).items():
        monkeypatch.setenv(key, value)  # passed down to the script
    done = run_script(EVERYTHING, sdk, server.socket_path, workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "run-1" and done.stderr == ""
    check_everything(collector, workdir)


def other_pythons() -> list[str]:
    """Interpreters other than this one that runs may use (3.8+), where this machine has them."""
    found: dict[str, str] = {}
    roots = [os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")) + "/versions/3.*/bin/python3"]
    for candidate in sorted(glob.glob(roots[0])) + sorted(glob.glob("/usr/bin/python3.*")):
        if not re.search(r"python3(\.\d+)?$", candidate):
            continue
        try:
            version = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except OSError:
            continue
        if re.fullmatch(r"3\.\d+", version) and int(version.split(".")[1]) >= 8:
            found.setdefault(version, candidate)
    return [found[v] for v in sorted(found, key=lambda v: int(v.split(".")[1]))]


@pytest.mark.parametrize("python", other_pythons() or ["none"])
def test_the_sdk_runs_on_every_supported_python(
    python: str, sdk: Path, server: TrackingServer, collector: Collector, workdir: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    if python == "none":
        pytest.skip("no other Python 3.8+ interpreter on this machine")
    for key, value in outside_files(tmp_path).items():
        monkeypatch.setenv(key, value)
    done = run_script(EVERYTHING, sdk, server.socket_path, workdir, python=python)
    assert done.returncode == 0, done.stderr
    check_everything(collector, workdir)


def test_a_script_that_raises_still_delivers_everything(
    sdk: Path, server: TrackingServer, collector: Collector, workdir: Path
) -> None:
    done = run_script(
        """
        import kiln.track as kt
        for i in range(25_000):
            kt.log_metric("x", i)
        kt.log_param("p", "v")
        raise RuntimeError("the model diverged")
        """,
        sdk,
        server.socket_path,
        workdir,
    )
    assert done.returncode == 1 and "the model diverged" in done.stderr
    assert collector.points("x") == {i: 1 for i in range(25_000)}
    assert [m[1] for m in collector.metrics("x")] == [float(i) for i in range(25_000)]
    assert collector.merged("params") == {"p": "v"}


def test_what_was_flushed_survives_sigkill(
    sdk: Path, server: TrackingServer, collector: Collector, workdir: Path
) -> None:
    done = run_script(
        """
        import os, signal, kiln.track as kt
        for i in range(1000):
            kt.log_metric("x", i)
        kt.set_tag("flushed", "yes")
        kt.flush()
        kt.log_metric("after", 1.0)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        sdk,
        server.socket_path,
        workdir,
    )
    assert done.returncode == -signal.SIGKILL
    assert collector.points("x") == {i: 1 for i in range(1000)}
    assert collector.merged("tags") == {"flushed": "yes"}


RESTART_SCRIPT = """
    import os, time, kiln.track as kt
    step = 0
    def log(n):
        global step
        for _ in range(n):
            kt.log_metric("i", step)
            step += 1
    def touch(name):
        open(name, "w").close()
    while not os.path.exists("down"):  # the agent's server is up: keep logging
        log(100)
        time.sleep(0.001)  # pacing, so the buffer does not grow to millions while the test waits
    log(5000)  # the server is down now
    touch("logged-while-down")
    while not os.path.exists("up"):
        log(100)
        time.sleep(0.001)
    log(1000)
    print(step)
"""


def test_a_server_restart_loses_and_duplicates_nothing(
    sdk: Path, sock_dir: Path, collector: Collector, workdir: Path
) -> None:
    path = sock_dir / "track.sock"
    first = TrackingServer(path, collector).start()
    second = None
    script = start_script(RESTART_SCRIPT, sdk, path, workdir)
    try:
        wait_until(lambda: len(collector.all()) >= 3, SCRIPT_TIMEOUT_S, "batches before the restart")
        first.stop()
        (workdir / "down").touch()
        wait_until((workdir / "logged-while-down").exists, SCRIPT_TIMEOUT_S, "logging while the server is down")
        # The agent keeps what it delivered with each batch; a new server starts from it.
        second = TrackingServer(path, collector, delivered=first.delivered()).start()
        (workdir / "up").touch()
        out, err = script.communicate(timeout=SCRIPT_TIMEOUT_S)
    finally:
        script.kill()
        script.wait()
        first.stop()
        if second is not None:
            second.stop()
    assert script.returncode == 0, err
    total = int(out)
    points = collector.points("i")
    assert sorted(points) == list(range(total))
    assert set(points.values()) == {1}


def test_forked_children_report_as_their_own_process(
    sdk: Path, server: TrackingServer, collector: Collector, workdir: Path
) -> None:
    done = run_script(
        """
        import os, kiln.track as kt
        kt.log_metric("parent", 1.0)
        kt.log_param("before_fork", "yes")
        pid = os.fork()
        if pid == 0:
            kt.log_metric("child", 2.0)
            kt.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        kt.log_metric("parent", 3.0)
        """,
        sdk,
        server.socket_path,
        workdir,
    )
    assert done.returncode == 0, done.stderr
    by_pid: dict[int, list[dict]] = {}
    for batch in collector.all():
        by_pid.setdefault(batch["pid"], []).append(batch)
    assert len(by_pid) == 2
    child = next(bs for bs in by_pid.values() if any(m[0] == "child" for b in bs for m in b.get("metrics", [])))
    assert child[0]["seq"] == 1 and "environment" in child[0]
    assert [m[0] for b in child for m in b.get("metrics", [])] == ["child"]  # nothing of the parent's buffer
    assert [(m[1], m[2]) for m in collector.metrics("parent")] == [(1.0, 0), (3.0, 1)]
    assert collector.merged("params") == {"before_fork": "yes"}


def test_outside_a_run_it_warns_once_and_records_nothing(sdk: Path, workdir: Path) -> None:
    done = run_script(
        """
        import kiln.track as kt
        for i in range(25_000):
            kt.log_metric("x", i)
        kt.log_params({"a": 1})
        kt.flush()
        print(kt.run_id())
        """,
        sdk,
        None,
        workdir,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "kiln.track: not inside a Kiln run (KILN_TRACK_SOCKET unset); nothing is recorded\n"
    assert done.stdout == "run-1\n"


def test_flush_says_clearly_when_the_agent_is_not_there(sdk: Path, sock_dir: Path, workdir: Path) -> None:
    done = run_script(
        """
        import kiln.track as kt
        kt.log_metric("x", 1.0)
        try:
            kt.flush(timeout=0.5)
        except kt.TrackingError as e:
            print(e, flush=True)
        import os
        os._exit(0)  # skip the exit hook's wait
        """,
        sdk,
        sock_dir / "nobody.sock",
        workdir,
    )
    assert done.returncode == 0, done.stderr
    assert "1 batch(es) not acknowledged by the agent" in done.stdout
    assert "cannot connect" in done.stdout


def test_the_sdk_imports_only_the_standard_library(
    sdk: Path, server: TrackingServer, collector: Collector, workdir: Path
) -> None:
    code = f"""
import json, sys
sys.path.insert(0, {str(sdk)!r})
import kiln.track as kt
kt.log_metric("x", 1.0)
kt.flush()
assert kt.__file__.startswith({str(sdk)!r}), kt.__file__
print(json.dumps(sorted(sys.modules)))
"""
    env = {"KILN_TRACK_SOCKET": str(server.socket_path), "KILN_WORKDIR": str(workdir)}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    ours = {"__main__", "kiln"}
    foreign = [
        m
        for m in modules
        if m not in ours and not m.startswith("kiln.track") and m.split(".")[0] not in sys.stdlib_module_names
    ]
    assert foreign == []
    assert sorted(m for m in modules if m.startswith("kiln")) == [
        "kiln",
        "kiln.track",
        "kiln.track._environment",
        "kiln.track._files",
        "kiln.track._link",
        "kiln.track._recorder",
    ]
    assert collector.points("x") == {0: 1}


def test_the_sdk_folder_holds_only_the_sdk(tmp_path: Path) -> None:
    sdk = prepare_sdk(tmp_path)
    files = sorted(p.relative_to(sdk).as_posix() for p in sdk.rglob("*") if p.is_file())
    assert files[0] == "kiln/__init__.py"
    assert all(f.startswith(("kiln/track/", "kiln/serve/", "kiln/workspace/")) and f.endswith(".py") for f in files[1:])
    assert {"kiln/track/__init__.py", "kiln/workspace/__main__.py"} <= set(files)


# -- validation, in this process: each call is refused before anything is buffered ----------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kt.log_metric("", 1.0), "must not be empty"),
        (lambda: kt.log_metric("k" * 251, 1.0), "at most 250"),
        (lambda: kt.log_metric(3, 1.0), "must be a str"),  # type: ignore[arg-type]
        (lambda: kt.log_metric("loss", float("inf")), "finite or nan"),
        (lambda: kt.log_metric("loss", "0.5"), "must be a number"),  # type: ignore[arg-type]
        (lambda: kt.log_metric("loss", None), "must be a number"),  # type: ignore[arg-type]
        (lambda: kt.log_metric("loss", 1.0, step=1.5), "step must be an int"),  # type: ignore[arg-type]
        (lambda: kt.log_metric("loss", 1.0, step=True), "not bool"),
        (lambda: kt.log_metric("loss", 1.0, step=2**63), "64 bits"),
        (lambda: kt.log_metric("loss", 1.0, timestamp="now"), "timestamp must be an int"),  # type: ignore[arg-type]
        (lambda: kt.log_metrics({"a": 1.0, "b": float("-inf")}), "finite or nan"),
        (lambda: kt.log_metrics([("a", 1.0)]), "takes a dict"),  # type: ignore[arg-type]
        (lambda: kt.log_param("p", "v" * 6001), "at most 6000"),
        (lambda: kt.log_params({"": 1}), "must not be empty"),
        (lambda: kt.set_tag("t", "v" * 6001), "at most 6000"),
        (lambda: kt.log_dataset(""), "must not be empty"),
        (lambda: kt.log_model(".", name="../escape"), "relative path without"),
        (lambda: kt.log_artifact(".", name="/abs"), "relative path without"),
    ],
)
def test_invalid_values_are_refused_clearly(call, message: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KILN_WORKDIR", str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_a_missing_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        kt.log_artifact(tmp_path / "missing.png")
