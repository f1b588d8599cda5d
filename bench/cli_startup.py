#!/usr/bin/env python3
"""Command-line start-up against a bare interpreter, in one run: `kiln --version`, `kiln --help`, and
`kiln runs --json` signed in to a real local coordinator (its own process on a free loopback port, a
temporary data folder, a few finished runs to list), each beside `python -c pass` with the same interpreter.
Every figure is the median wall time of a whole process, the cases interleaved so that drift in the
machine's load hits them alike.

Targets: `kiln --version` and `kiln --help` <= 3x `python -c pass`; `kiln runs --json` <= 250 ms wall.
`kiln runs --json` runs twice: signed in the usual way (`kiln login`, the token in the keyring or its
fallback file) and with KILN_TOKEN, as a script does; the gap between the two is the keyring's cost.
`kiln push` of a small folder pushed before and unchanged since is the process's own overhead on a push
(the walk and one small call are a few ms of it): <= 200 ms wall, the interpreter, grpc, protobuf and the
keyring being ~130 ms of it on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ADMIN_PASSWORD, agent_process, coordinator_process, median, print_table, timed  # noqa: E402
from kiln.core.runs import RunSpec  # noqa: E402
from kiln.sync.push import push  # noqa: E402

RUNS_TARGET_S = 0.250
PUSH_TARGET_S = 0.200
RATIO_TARGET = 3.0


def kiln_command() -> list[str]:
    """The `kiln` console script next to this interpreter (what a person types), else `python -m kiln`."""
    script = Path(sys.executable).parent / "kiln"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kiln"]


def run_ok(cmd: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def wall(cmd: list[str], env: dict[str, str]) -> float:
    def once() -> None:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)

    return timed(once)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="runs of each command; the median is shown")
    parser.add_argument("--runs", type=int, default=20, help="finished runs for `kiln runs` to list")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()

    kiln, n = kiln_command(), args.runs
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-cli-", dir=args.dir))
    # The CLI's own folder, and the keyring's file backend (where that is the one found) kept in the
    # work folder too, so the benchmark leaves nothing behind.
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_TOKEN", "KILN_PROJECT")}
    env.update(KILN_HOME=str(work / "home"), XDG_DATA_HOME=str(work / "data"))
    try:
        with coordinator_process(work / "coordinator") as client:
            client.create_project("bench")
            (work / "src").mkdir()
            (work / "src" / "train.py").write_text("print('hello')\n")
            snapshot = push(client, work / "src", "bench", "", work / "cache").snapshot.id
            with agent_process(client, work / "agent", "--runtime", "process"):
                ids = [client.submit_run(RunSpec("bench", ("true",), snapshot, "", "process")).id for _ in range(n)]
                deadline = time.monotonic() + 120
                while not all(client.get_run(i).state.terminal for i in ids):  # then the agent stops, idle
                    if time.monotonic() > deadline:
                        raise SystemExit("the runs to list did not finish within 2 minutes")
                    time.sleep(0.1)
            fingerprint = client.server_info().ca_fingerprint
            login = ["login", client.address, "--user", "admin", "--password-stdin", "--fingerprint", fingerprint]
            run_ok([*kiln, *login], env, ADMIN_PASSWORD + "\n")
            secret = json.loads(run_ok([*kiln, "token", "create", "--name", "bench", "--expires", "1h", "--json"], env))
            token_env = {**env, "KILN_TOKEN": secret["secret"]}
            listed = json.loads(run_ok([*kiln, "runs", "--json"], env))
            if len(listed) != n:
                raise SystemExit(f"kiln runs listed {len(listed)} runs, not the {n} submitted")
            push_cmd = [*kiln, "push", str(work / "src"), "--project", "bench", "--json"]
            first = json.loads(run_ok(push_cmd, env))  # the CLI's own stat cache, and its last snapshot
            again = json.loads(run_ok(push_cmd, env))
            if again["snapshot"] != first["snapshot"] or again["bytes_uploaded"] != 0:
                raise SystemExit(f"kiln push of an unchanged folder was not a no-op: {again}")

            cases: list[tuple[str, list[str], dict[str, str], str]] = [
                ("python -c pass", [sys.executable, "-c", "pass"], env, ""),
                ("kiln --version", [*kiln, "--version"], env, "ratio"),
                ("kiln --help", [*kiln, "--help"], env, "ratio"),
                ("kiln runs --json", [*kiln, "runs", "--json"], env, "wall"),
                ("kiln runs --json, KILN_TOKEN", [*kiln, "runs", "--json"], token_env, "wall"),
                ("kiln push, nothing changed", push_cmd, env, "push"),
            ]
            times: dict[str, list[float]] = {label: [] for label, *_ in cases}
            for _label, cmd, case_env, _ in cases:  # warm the page cache and the .pyc files first
                wall(cmd, case_env)
            for _ in range(args.repeat):
                for label, cmd, case_env, _ in cases:
                    times[label].append(wall(cmd, case_env))
            run_ok([*kiln, "logout"], env)

        peer = median(times["python -c pass"])
        rows = []
        for label, _, _, kind in cases:
            t = median(times[label])
            if kind == "ratio":
                target = f"<= {RATIO_TARGET:g}x {'ok' if t / peer <= RATIO_TARGET else 'MISSED'}"
            elif kind in ("wall", "push"):
                limit = RUNS_TARGET_S if kind == "wall" else PUSH_TARGET_S
                target = f"<= {limit * 1000:.0f} ms {'ok' if t <= limit else 'MISSED'}"
            else:
                target = "(the peer)"
            rows.append([label, f"{t * 1000:.1f}", f"{peer * 1000:.1f}", f"{t / peer:.2f}x", target])
        print_table(
            f"CLI start-up: median of {args.repeat} whole processes, {os.cpu_count()} cores, {' '.join(kiln)}; "
            f"`kiln runs` lists {n} runs from a local coordinator, `kiln push` re-pushes a 1-file folder",
            ["command", "ms", "python -c pass ms", "ratio", "target"],
            rows,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
