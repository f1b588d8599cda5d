#!/usr/bin/env python3
"""Snapshot sync against rsync, in one run. Two generated trees: "data" (10,000 files of 4 KiB and one of
512 MiB) and "repo" (100,000 files of 1-16 KiB in a deep tree, like a big repository; --repo-files 0 leaves
it out). Each is pushed to a local coordinator (its own process) and copied with `rsync -a` to a local
folder; then both repeat with nothing changed, and after changing one small file. Each case is measured
twice: the in-process `push()` beside `rsync -a` as a process, and `kiln push` as a process (what a user
types, after `kiln login`) beside the same `rsync -a`. Kiln and rsync alternate, and re-pushes show medians.

Targets (kiln / rsync, same run): full <= 1.25x; nothing changed <= 0.3x; one small file changed <= 0.7x;
bytes uploaded on a re-push = the size of the changed file. A full push cannot beat SHA-256 over its bytes
on every core: the bench prints that bound, how close the push is to it, and where the in-process push's
time went, phase by phase.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ADMIN_PASSWORD, coordinator_process, median, print_table, timed  # noqa: E402
from kiln.sync import push as push_module  # noqa: E402
from kiln.sync.push import push  # noqa: E402
from kiln.sync.statcache import StatCache  # noqa: E402
from kiln.sync.upload import Uploader  # noqa: E402

TARGETS = {"full": 1.25, "no-op": 0.3, "one file changed": 0.7}


def generate_data(root: Path, small: int, small_bytes: int, big_mib: int) -> Path:
    for i in range(small):
        d = root / f"dir{i // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i:05d}.dat").write_bytes(os.urandom(small_bytes))
    with open(root / "big.bin", "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(1024 * 1024))
    return root / "dir000" / "file00000.dat"


def generate_repo(root: Path, files: int) -> Path:
    """`files` files of 1-16 KiB, about 10 to a folder, in folders nested 3-6 deep (a big repository)."""
    rng = random.Random(14)
    pool = os.urandom(16 * 1024 + 4096)
    first = None
    for i in range(files):
        depth = 3 + i % 4
        parts = [f"pkg{(i // 10 // 7**k) % 7}" for k in range(depth)]
        d = root.joinpath(*parts)
        d.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1024, 16 * 1024)
        offset = rng.randint(0, 4096)
        path = d / f"mod{i:06d}.py"
        path.write_bytes(pool[offset : offset + size - 8] + i.to_bytes(8, "little"))
        first = first or path
    assert first is not None
    return first


def rsync(src: Path, dst: Path) -> float:
    return timed(lambda: subprocess.run(["rsync", "-a", f"{src}/", f"{dst}/"], check=True))[0]


def sha256_rate() -> float:
    """hashlib's SHA-256 throughput on one core, bytes/s (1 MiB updates, as the push reads)."""
    block, h, n = os.urandom(1024**2), hashlib.sha256(), 0
    start = time.perf_counter()
    while time.perf_counter() - start < 0.5:
        h.update(block)
        n += len(block)
    return n / (time.perf_counter() - start)


def walk_floor(root: Path) -> float:
    """Seconds to list every folder with os.scandir and lstat every entry, doing nothing else: what any walk
    that notices a changed file (rsync's included) pays, the floor of push()'s walk. The best of three."""

    def once() -> None:
        stack = [os.fspath(root)]
        while stack:
            with os.scandir(stack.pop()) as it:
                for child in it:
                    if child.stat(follow_symlinks=False) and child.is_dir(follow_symlinks=False):
                        stack.append(child.path)

    return min(timed(once)[0] for _ in range(3))


class Phases:
    """Wall time spent in each step of the in-process push, per case (module functions wrapped here)."""

    def __init__(self) -> None:
        self.spent: dict[str, dict[str, float]] = {}
        self.runs: dict[str, int] = {}
        self.case = ""

    def wrap(self, owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                if self.case:
                    spent = self.spent.setdefault(self.case, {})
                    spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed_call)

    def install(self, client: Any) -> None:
        self.wrap(StatCache, "for_folder", "stat cache read")
        self.wrap(push_module, "walk", "walk")
        self.wrap(push_module, "_hash_all", "hashing (uploads run beside it)")
        self.wrap(Uploader, "finish", "upload left after hashing")
        self.wrap(push_module, "_existing", "wait for the last snapshot's record")
        self.wrap(client, "create_snapshot", "create_snapshot call")
        self.wrap(StatCache, "write", "stat cache write")

    def timed_push(self, case: str, fn: Callable[[], Any]) -> tuple[float, Any]:
        self.case = case
        self.runs[case] = self.runs.get(case, 0) + 1
        try:
            return timed(fn)
        finally:
            self.case = ""

    def report(self) -> None:
        for case, spent in self.spent.items():
            n = self.runs[case]
            steps = ", ".join(f"{k} {v / n * 1000:.1f}" for k, v in spent.items())
            print(f"  {case}: {steps} (ms per push)")


def kiln_cli(env: dict[str, str]) -> Callable[[Path, str], float]:
    script = Path(sys.executable).parent / "kiln"
    kiln = [str(script)] if script.exists() else [sys.executable, "-m", "kiln"]

    def run(src: Path, project: str) -> float:
        cmd = [*kiln, "push", str(src), "--project", project, "--json"]
        return timed(lambda: subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL))[0]

    return run


def cli_env(client: Any, work: Path) -> dict[str, str]:
    """A KILN_HOME signed in with `kiln login`, as a user's is (the token in the keyring's file backend)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_TOKEN", "KILN_PROJECT")}
    env.update(KILN_HOME=str(work / "home"), XDG_DATA_HOME=str(work / "data"))
    # An installed kiln runs from compiled .pyc files: where this shell says not to write them, they are
    # kept in the work folder instead, and made before anything is measured.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    warm = "import kiln.cli, kiln.cli.snapshots, kiln.config, kiln.sync.push"
    subprocess.run([sys.executable, "-c", warm], check=True, env=env)
    fingerprint = client.server_info().ca_fingerprint
    login = ["login", client.address, "--user", "admin", "--password-stdin", "--fingerprint", fingerprint]
    script = Path(sys.executable).parent / "kiln"
    kiln = [str(script)] if script.exists() else [sys.executable, "-m", "kiln"]
    subprocess.run([*kiln, *login], input=ADMIN_PASSWORD + "\n", text=True, check=True, env=env, capture_output=True)
    return env


def measure(
    tree: tuple[str, Path, Path], work: Path, client: Any, phases: Phases, cli: Callable[[Path, str], float], args: Any
) -> list[list[object]]:
    """Rows for one tree: in-process push() and `kiln push`, each beside rsync, full / no-op / one file."""
    name, src, changed = tree
    rows: list[list[object]] = []
    small = changed.stat().st_size
    for how in ("push()", "kiln push"):
        project = f"{name}-{'lib' if how == 'push()' else 'cli'}"
        client.create_project(project)
        dst, cache = work / f"rsync-{project}", work / f"cache-{project}"

        def once(case: str, how: str = how, project: str = project, cache: Path = cache) -> tuple[float, int]:
            if how == "kiln push":
                return cli(src, project), -1
            t, result = phases.timed_push(f"{name} {case}", lambda: push(client, src, project, "", cache))
            return t, result.bytes_uploaded

        r = rsync(src, dst)
        k, sent = once("full")
        rows.append([name, how, "full", k, r, sent, small])
        for case in ("no-op", "one file changed"):
            ks, rs, sent_max = [], [], 0
            for _ in range(args.repeat):
                if case == "one file changed":
                    changed.write_bytes(os.urandom(small))
                rs.append(rsync(src, dst))
                k, sent = once(case)
                ks.append(k)
                sent_max = max(sent_max, sent)
            rows.append([name, how, case, median(ks), median(rs), sent_max, small])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000, help="number of small files in the data tree")
    parser.add_argument("--small-bytes", type=int, default=4096)
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--repo-files", type=int, default=100_000, help="files in the repo tree (0: leave it out)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of the no-op and one-file cases")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()
    if not shutil.which("rsync"):
        sys.exit("rsync is not installed (apt-get install rsync); it is the peer this benchmark compares with")

    work = Path(tempfile.mkdtemp(prefix="kiln-bench-sync-", dir=args.dir))
    try:
        trees = [("data", work / "data", generate_data(work / "data", args.small, args.small_bytes, args.big_mib))]
        if args.repo_files:
            trees.append(("repo", work / "repo", generate_repo(work / "repo", args.repo_files)))
        rows: list[list[object]] = []
        with coordinator_process(work / "coordinator") as client:
            phases = Phases()
            phases.install(client)
            cli = kiln_cli(cli_env(client, work))
            for tree in trees:
                rows += measure(tree, work, client, phases, cli, args)
        print("\nwhere the in-process push's time goes (wall time per step; uploads run beside the hashing):")
        phases.report()
        show(rows, trees, args, phases)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def show(rows: list[list[object]], trees: list[tuple[str, Path, Path]], args: Any, phases: Phases) -> None:
    table = []
    for tree, how, case, k, r, sent, _ in rows:
        assert isinstance(k, float) and isinstance(r, float)
        target = TARGETS[str(case)]
        verdict = "ok" if k / r <= target else "MISSED"
        table.append([tree, how, case, f"{k:.3f}", f"{r:.3f}", f"{k / r:.2f}x", f"<= {target}x {verdict}", sent])
    print_table(
        f"snapshot sync against rsync -a, {os.cpu_count()} cores; median of {args.repeat} for re-pushes "
        "(bytes uploaded: -1 where a process does not say)",
        ["tree", "kiln", "case", "kiln s", "rsync -a s", "kiln/rsync", "target", "bytes uploaded"],
        table,
    )
    rate, cores = sha256_rate(), os.cpu_count() or 1
    for name, src, _ in trees:
        total = sum(e.stat().st_size for e in src.rglob("*") if e.is_file())
        bound = total / (rate * cores)
        full = next(float(str(r[3])) for r in rows if r[0] == name and r[1] == "push()" and r[2] == "full")
        print(
            f"{name}: {total / 1e6:.0f} MB; SHA-256 bound {bound:.3f} s ({rate / 1e9:.2f} GB/s per core x {cores} "
            f"cores); the full push() took {full:.3f} s, {full / bound:.1f}x the bound"
        )
    for name, src, _ in trees:
        walked = [
            v / phases.runs[c]
            for c, spent in phases.spent.items()
            if c.startswith(f"{name} no-op")
            for k, v in spent.items()
            if k == "walk"
        ]
        print(
            f"{name}: walk floor (os.scandir + lstat of every entry, nothing else) {walk_floor(src) * 1000:.0f} ms; "
            f"push()'s walk on a no-op {(walked[0] if walked else float('nan')) * 1000:.0f} ms"
        )
    one = [(s, size) for _, how, case, _, _, s, size in rows if how == "push()" and case == "one file changed"]
    noop = [s for _, how, case, _, _, s, _ in rows if how == "push()" and case == "no-op"]
    ok = all(s == size for s, size in one) and all(s == 0 for s in noop)
    print(f"re-push uploads exactly the changed file and nothing when unchanged: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
