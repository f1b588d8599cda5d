#!/usr/bin/env python3
"""Environments against what people do by hand, each beside its peer in the same run, nothing from the internet:

1. A Python environment from a lock of six tiny local wheels (made here, with dependencies between them):
   Kiln's build (`uv venv` + `uv pip sync --require-hashes`, kiln.agent.environments.build_python) beside
   `python -m venv D && D/bin/pip install --no-index --find-links DIR -r LOCK` (the same lock, so pip checks the
   same hashes). Median of --repeat; target: Kiln <= the peer. The lock itself (`resolve_lock`) is timed too,
   beside `pip-compile --generate-hashes` where pip-tools is installed.
2. A Docker environment shipped to a node that lacks it: an image FROM the local busybox with a --blob-mib
   layer, saved into a folder, pushed as a snapshot to a coordinator process, materialised from it into a
   fresh blob cache (every blob verified) and loaded into a second Docker engine, beside
   `docker save IMG | DOCKER_HOST=SECOND docker load`; then again with the layers already in the
   coordinator's store (nothing uploaded). Median of --ship-repeat; target: Kiln <= 2x the peer.
3. Submit -> started (the coordinator's created_at to started_at, as bench/dispatch.py reads it) of a run in
   a Python environment the node holds, beside a run with no environment, on the process runtime with one
   agent process; --runs of each, interleaved. Target: the cached environment within 50 ms of bare at p50.

A figure whose parts are missing here (no Docker engine, no root for a second dockerd) is skipped with a line
saying so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import agent_process, coordinator_process, median, print_table, succeeded, timed  # noqa: E402
from bench.dispatch import percentile  # noqa: E402
from kiln.agent.environments import build_python  # noqa: E402
from kiln.agent.images import build_image, load_image, save_image  # noqa: E402
from kiln.agent.workspace import BlobCache, materialize  # noqa: E402
from kiln.client import Client  # noqa: E402
from kiln.core.environments import BuildState, Definition, EnvKind  # noqa: E402
from kiln.core.runs import RunSpec  # noqa: E402
from kiln.sync.locks import IndexSettings, resolve_lock  # noqa: E402
from kiln.sync.push import push  # noqa: E402
from tests.wheels import build_wheel  # noqa: E402

IMAGE = "kiln-test/busybox:1"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# name -> requirements: a small graph (benchapp needs everything below it)
WHEELS = {
    "benchbase": (),
    "benchutil": ("benchbase>=1",),
    "benchio": ("benchbase>=1",),
    "benchmodel": ("benchutil>=1", "benchio>=1"),
    "benchplot": ("benchutil>=1",),
    "benchapp": ("benchmodel>=1", "benchplot>=1"),
}
REQUIREMENTS = "benchapp==1.0\n"


def quiet(_line: str) -> None:
    """A build log nobody reads."""


def ratio_row(case: str, kiln: float, peer: str, peer_s: float | None, target: float, *extra: object) -> list[object]:
    """case, Kiln's seconds, the peer and its seconds, the ratio, the target and its verdict, then `extra`."""
    if peer_s is None:
        return [case, f"{kiln:.3f}", peer, "—", "—", "—", *extra]
    r = kiln / peer_s
    verdict = f"<= {target}x {'ok' if r <= target else 'MISSED'}"
    return [case, f"{kiln:.3f}", peer, f"{peer_s:.3f}", f"{r:.2f}x", verdict, *extra]


# 1. A Python environment from a lock


def pip_venv(lock: Path, wheels: Path, dest: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(dest)], check=True, stdout=subprocess.DEVNULL)
    pip = [str(dest / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "--no-index"]
    subprocess.run([*pip, "--find-links", str(wheels), "-r", str(lock)], check=True, stdout=subprocess.DEVNULL)


def python_environments(work: Path, wheels: Path, repeat: int) -> str:
    index = IndexSettings(find_links=(str(wheels),), no_index=True)
    req = work / "requirements.in"
    req.write_text(REQUIREMENTS)
    t_lock, lock = timed(lambda: resolve_lock(req, PYTHON, index))
    assert isinstance(lock, str)
    lock_file = work / "lock.txt"
    lock_file.write_text(lock)
    rows: list[list[object]] = []
    pip_compile = shutil.which("pip-compile", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if pip_compile:
        cmd = [pip_compile, "--quiet", "--generate-hashes", "--no-index", "--find-links", str(wheels)]
        cmd += ["--output-file", str(work / "pip-lock.txt"), str(req)]
        t_peer = timed(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))[0]
        rows.append(ratio_row("lock (resolve_lock, uv)", t_lock, "pip-compile --generate-hashes", t_peer, 1.0))
    else:
        rows.append(ratio_row("lock (resolve_lock, uv)", t_lock, "n/a (pip-compile not installed)", None, 1.0))

    kiln: list[float] = []
    peer: list[float] = []
    for i in range(repeat):  # interleaved, so both see the same machine
        kiln_dest, pip_dest = work / f"kiln-venv-{i}", work / f"pip-venv-{i}"
        kiln.append(timed(partial(build_python, lock, PYTHON, kiln_dest, index, quiet))[0])
        peer.append(timed(partial(pip_venv, lock_file, wheels, pip_dest))[0])
        shutil.rmtree(kiln_dest)
        shutil.rmtree(pip_dest)
    rows.append(
        ratio_row(
            f"env from lock ({len(WHEELS)} pkgs)", median(kiln), "python -m venv && pip install", median(peer), 1.0
        )
    )
    print_table(
        f"Python environment from a lock of {len(WHEELS)} local wheels, Python {PYTHON}, {os.cpu_count()} cores; "
        f"median of {repeat}",
        ["case", "kiln s", "peer", "peer s", "kiln/peer", "target"],
        rows,
    )
    return lock


# 2. Shipping a Docker environment


def docker_missing() -> str:
    """Why the Docker figure cannot be measured here ("" when it can)."""
    try:
        import docker

        engine = docker.from_env()
        engine.images.get(IMAGE)
        engine.close()
    except Exception as e:
        return f"no Docker engine with {IMAGE} ({type(e).__name__}: {str(e)[:120]})"
    if not shutil.which("docker"):
        return "no docker CLI (the peer's `docker save | docker load`)"
    if not shutil.which("dockerd") or os.geteuid() != 0:
        return "a second Docker engine needs dockerd and root"
    return ""


def kiln_ship(client: Client, engine: Any, second: Any, image_id: str, work: Path, push_cache: Path) -> int:
    """save -> push -> materialise into a fresh blob cache -> load into the second engine; the bytes uploaded."""
    saved, received = work / "saved", work / "received"
    saved.mkdir()
    save_image(engine, image_id, saved)
    pushed = push(client, saved, "bench", "image", push_cache)
    materialize(client, BlobCache(work / "blobs"), "bench", pushed.snapshot.id, received, work / "statcache")
    loaded = load_image(second, received)
    if loaded != image_id:
        raise SystemExit(f"the second engine loaded {loaded}, not {image_id}")
    return pushed.bytes_uploaded


def peer_ship(image_id: str, second_url: str) -> None:
    save = subprocess.Popen(["docker", "save", image_id], stdout=subprocess.PIPE)
    env = {**os.environ, "DOCKER_HOST": second_url}
    loaded = subprocess.run(["docker", "load", "-q"], stdin=save.stdout, env=env, stdout=subprocess.DEVNULL)
    assert save.stdout is not None
    save.stdout.close()
    if save.wait() != 0 or loaded.returncode != 0:
        raise SystemExit("docker save | docker load failed")


def docker_shipping(client: Client, work: Path, repeat: int, blob_mib: int) -> None:
    missing = docker_missing()
    if missing:
        print(f"\nshipping a Docker environment: skipped, {missing}")
        return
    import docker

    from tests.dockerd import second_engine_running

    engine = docker.from_env(timeout=600)
    context = work / "context"
    context.mkdir()
    first_k: list[float] = []
    first_p: list[float] = []
    again_k: list[float] = []
    again_p: list[float] = []
    uploaded: dict[str, list[int]] = {"first": [], "again": []}
    built: list[str] = []
    size = 0
    try:
        with second_engine_running() as second:

            def gone(image_id: str) -> None:  # the receiving node lacks it again
                second.client.images.remove(image_id, force=True)

            for i in range(repeat):
                # a new layer each time (the nonce), so the first ship stores it for the first time
                layer = f"dd if=/dev/urandom of=/blob bs=1M count={blob_mib} && echo {i}-{time.time()}"
                dockerfile = f"FROM {IMAGE}\nRUN {layer}\n"
                image_id = build_image(engine, context, dockerfile, f"kiln-bench/ship:{i}", quiet)
                built.append(image_id)
                size = int(engine.api.inspect_image(image_id)["Size"])
                push_cache = work / f"push-cache-{i}"
                first_p.append(timed(partial(peer_ship, image_id, second.url))[0])
                gone(image_id)
                for kind, times in (("first", first_k), ("again", again_k)):
                    trip = work / f"ship-{i}-{kind}"
                    trip.mkdir()
                    t, sent = timed(partial(kiln_ship, client, engine, second.client, image_id, trip, push_cache))
                    times.append(t)
                    assert isinstance(sent, int)
                    uploaded[kind].append(sent)
                    gone(image_id)
                    shutil.rmtree(trip)
                again_p.append(timed(partial(peer_ship, image_id, second.url))[0])
                gone(image_id)
    finally:
        for image_id in built:
            with contextlib.suppress(docker.errors.DockerException):
                engine.images.remove(image_id, force=True)
        engine.close()
    peer = "docker save | docker load"
    rows: list[list[object]] = [
        ratio_row("ship to a node lacking it", median(first_k), peer, median(first_p), 2.0, max(uploaded["first"])),
        ratio_row("ship again, layers already stored", median(again_k), peer, median(again_p), 2.0,
                  max(uploaded["again"])),
    ]  # fmt: skip
    print_table(
        f"Docker environment shipped to a second engine: image of {size / 1e6:.1f} MB ({blob_mib} MiB layer) "
        f"via the coordinator, {os.cpu_count()} cores; median of {repeat}",
        ["case", "kiln s", "peer", "peer s", "kiln/peer", "target", "bytes uploaded (most)"],
        rows,
    )


# 3. Submit -> started in a cached environment


def latency(client: Client, spec: RunSpec) -> float:
    r = succeeded(client, spec)
    return r.started_at - r.created_at


def cached_environment_dispatch(client: Client, work: Path, wheels: Path, lock: str, runs: int) -> None:
    agent_flags = ("--runtime", "process", "--find-links", str(wheels), "--no-index")
    with agent_process(client, work / "agent", *agent_flags):
        env = client.create_environment("bench", "benchenv", Definition(EnvKind.PYTHON, lock, PYTHON))
        deadline = time.monotonic() + 120
        while env.state is BuildState.BUILDING:
            if time.monotonic() > deadline:
                raise SystemExit(f"environment {env.ref} still building after 120 s")
            time.sleep(0.05)
            env = client.get_environment("bench", env.ref)
        if env.state is not BuildState.READY:
            raise SystemExit(f"environment {env.ref} {env.state}: {env.reason}")
        (work / "src").mkdir()
        (work / "src" / "train.py").write_text("print('hi')\n")
        snapshot = push(client, work / "src", "bench", "", work / "cache").snapshot.id
        in_env = RunSpec("bench", ("python3", "-c", "pass"), snapshot, runtime="process", environment=env.ref)
        bare = RunSpec("bench", ("python3", "-c", "pass"), snapshot, runtime="process")
        # warm: the environment now held on the node, the SDK copy, the blob cache; and python3 there is the
        # environment's (the run fails unless it can import the lock's top package)
        latency(client, replace(in_env, command=("python3", "-c", "import benchapp")))
        for _ in range(3):
            latency(client, in_env)
            latency(client, bare)
        found_env: list[float] = []
        found_bare: list[float] = []
        for _ in range(runs):  # interleaved, so both see the same machine
            found_env.append(latency(client, in_env))
            found_bare.append(latency(client, bare))
    bare_p50 = statistics.median(found_bare)
    table: list[list[object]] = []
    for name, values, target in (
        (f"environment {env.ref} cached on the node", found_env, 0.050),
        ("no environment (bare python3)", found_bare, None),
    ):
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        over, verdict = "", ""
        if target is not None:
            over = f"{(p50 - bare_p50) * 1000:+.1f} ms"
            verdict = f"<= +{target * 1000:.0f} ms {'ok' if p50 - bare_p50 <= target else 'MISSED'}"
        table.append([name, f"{p50 * 1000:.1f}", f"{p99 * 1000:.1f}", over, verdict])
    print_table(
        f"submit -> started, process runtime, one agent, {runs} runs each, {os.cpu_count()} cores",
        ["run", "p50 ms", "p99 ms", "p50 vs bare", "target"],
        table,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="runs of each kind for submit -> started")
    parser.add_argument("--repeat", type=int, default=5, help="Python environment builds of each kind")
    parser.add_argument("--ship-repeat", type=int, default=3, help="Docker shipping trips of each kind")
    parser.add_argument("--blob-mib", type=int, default=20, help="size of the image's own layer")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-env-", dir=args.dir))
    try:
        wheels = work / "wheels"
        for name, requires in WHEELS.items():
            build_wheel(wheels, name, "1.0", requires)
        for part in ("python", "docker", "dispatch"):
            (work / part).mkdir()
        lock = python_environments(work / "python", wheels, args.repeat)
        with coordinator_process(work / "coordinator") as client:
            client.create_project("bench")
            docker_shipping(client, work / "docker", args.ship_repeat, args.blob_mib)
            cached_environment_dispatch(client, work / "dispatch", wheels, lock, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
