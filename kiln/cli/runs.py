"""`kiln run`, `runs`, `run show`, `logs`, `cancel`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.cli.common import add_json, command
from kiln.cli.output import emit_json, info, table, when
from kiln.cli.progress import reporter_for
from kiln.cli.session import cache_dir, connect
from kiln.core.errors import InvalidArgument
from kiln.core.runs import Priority, Resources, Run, RunSpec
from kiln.core.units import parse_size

if TYPE_CHECKING:
    from kiln.client import Client

SEARCH_HELP = """\
filter language: params.NAME, metrics.NAME (last value), tags.NAME, state, user, node, id, created_at,
started_at, finished_at; operators = != < <= > >= like; values are numbers, 'quoted' text or bare words;
combine with and / or and parentheses. Example:
  kiln runs -p demo --filter "params.lr > 0.01 and metrics.acc >= 0.9" --sort -metrics.acc --json
"""

RUN_HELP = """\
examples:
  kiln run -p demo -- python train.py --lr 0.01        push this folder, run it (process or default runtime)
  kiln run -p demo --image kiln-test/busybox:1 --follow -- sh -c 'echo hi'
  kiln run -p demo --gpus 2 --gpu-model a100 --memory 32G --priority high -- python train.py
  kiln run show RUN_ID --json                          one run, with its state history
"""


def register(sub: Any) -> None:
    p = command(
        sub,
        "run",
        "push the working folder and run a command on the cluster",
        run,
        epilog=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--project", "-p", default=os.environ.get("KILN_PROJECT"), help="project (default $KILN_PROJECT)")
    p.add_argument("--path", type=Path, default=Path("."), help="folder to push and run in (default: here)")
    p.add_argument("--snapshot", default="", help="run this existing snapshot instead of pushing the folder")
    p.add_argument("--image", default="", help="container image (Docker runtime)")
    p.add_argument("--runtime", default="", choices=["", "docker", "process"], help="runtime (default: by image)")
    p.add_argument("--cpus", type=float, default=1.0)
    p.add_argument("--memory", default="0", help="memory to reserve and limit to, e.g. 4G")
    p.add_argument("--gpus", type=int, default=0)
    p.add_argument("--gpu-model", default="", help="part of the GPU's name, e.g. a100")
    p.add_argument("--priority", default="normal", choices=["low", "normal", "high"])
    p.add_argument("--label", action="append", default=[], metavar="K=V", help="run only on nodes with this label")
    p.add_argument("--env", "-e", action="append", default=[], metavar="K=V", help="environment variable")
    p.add_argument("--network", default="none", choices=["none", "host", "bridge"], help="container network")
    p.add_argument("--retries", type=int, default=0, help="attempts after the first if the node is lost")
    p.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME[:VERSION]",
        help="mount a dataset read-only at /datasets/NAME (latest version unless given)",
    )
    p.add_argument("--parent", default="", metavar="RUN", help="the run this one re-runs or continues")
    p.add_argument("--message", "-m", default="", help="message for the pushed snapshot")
    p.add_argument("--follow", "-f", action="store_true", help="stream the logs and exit with the run's exit code")
    add_json(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run (or: show RUN_ID)")
    p = command(
        sub,
        "runs",
        "list or search runs, newest first",
        list_runs,
        epilog=SEARCH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--project", "-p", default=os.environ.get("KILN_PROJECT") or "")
    p.add_argument("--state", default="")
    p.add_argument("--filter", default="", help='e.g. "params.lr > 0.01 and metrics.acc >= 0.9"')
    p.add_argument("--sort", default="", help="e.g. -metrics.acc (a leading - sorts descending)")
    p.add_argument("--limit", type=int, default=100)
    add_json(p)
    p = command(sub, "logs", "a run's output", logs)
    p.add_argument("id")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming until the run ends")
    p = command(sub, "cancel", "cancel a run (SIGTERM, a grace period, then SIGKILL)", cancel)
    p.add_argument("id")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{what} {item!r} must look like KEY=VALUE")
        found[key] = value
    return found


def run_dict(r: Run) -> dict[str, object]:
    end = r.finished_at or 0
    return {
        "id": r.id,
        "project": r.spec.project,
        "user": r.user,
        "state": str(r.state),
        "node": r.node or None,
        "attempt": r.attempt,
        "exit_code": r.exit_code,
        "reason": r.reason or None,
        "command": list(r.spec.command),
        "image": r.spec.image or None,
        "runtime": r.runtime or r.spec.runtime or None,
        "snapshot": r.spec.snapshot,
        "output_snapshot": r.output_snapshot or None,
        "gpus": list(r.gpu_uuids),
        "created_at": when(r.created_at),
        "started_at": when(r.started_at) or None,
        "finished_at": when(r.finished_at) or None,
        "duration_s": round(end - r.started_at, 3) if end and r.started_at else None,
        "events": [
            {
                "time": when(e.time),
                "state": str(e.state),
                "cause": e.cause,
                "node": e.node or None,
                "attempt": e.attempt,
            }
            for e in r.events
        ],
    }


def run(args: argparse.Namespace) -> int:
    words = [w for w in args.command if w != "--"] if args.command[:1] == ["--"] else list(args.command)
    if args.command[:1] == ["show"]:
        return show(args.command[1:], args.json)
    if not words:
        raise InvalidArgument("nothing to run: put the command after --, e.g. kiln run -p demo -- python train.py")
    if not args.project:
        raise InvalidArgument("which project? pass --project or set KILN_PROJECT")
    try:
        resources = Resources(args.cpus, parse_size(args.memory), args.gpus, args.gpu_model)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    with connect() as client:
        snapshot = args.snapshot
        if not snapshot:
            from kiln.sync.push import push

            snapshot = push(
                client,
                args.path.resolve(),
                args.project,
                args.message or f"kiln run {' '.join(words)}",
                cache_dir(),
                reporter_for(args.json),
            ).snapshot.id
        spec = RunSpec(
            args.project,
            tuple(words),
            snapshot,
            args.image,
            args.runtime,
            resources,
            Priority.parse(args.priority),
            _pairs(args.label, "label"),
            args.retries,
            _pairs(args.env, "env"),
            args.network,
            tuple(args.dataset),
            args.parent,
        )
        submitted = client.submit_run(spec)
        if args.json and not args.follow:
            emit_json(run_dict(submitted))
            return 0
        info(f"run {submitted.id} queued in {args.project}")
        if not args.follow:
            print(submitted.id)
            return 0
        return _follow(client, submitted.id, args.json)


def _print_logs(client: Client, run_id: str, follow: bool) -> None:
    for chunk in client.read_logs(run_id, follow=follow):
        stream = sys.stderr if chunk.stream == "stderr" else sys.stdout
        stream.buffer.write(chunk.data)
        stream.flush()


def _follow(client: Client, run_id: str, as_json: bool) -> int:
    _print_logs(client, run_id, follow=True)
    final = client.get_run(run_id)
    if as_json:
        emit_json(run_dict(final))
    else:
        info(
            f"run {run_id} {final.state}"
            + (f" (exit code {final.exit_code})" if final.exit_code is not None else "")
            + (f": {final.reason}" if final.reason else "")
        )
    if final.exit_code is not None:
        return final.exit_code
    return 0 if str(final.state) == "succeeded" else 1


def show(rest: list[str], as_json: bool) -> int:
    parser = argparse.ArgumentParser(prog="kiln run show", description="one run, with its state history")
    parser.add_argument("id")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args(rest)
    with connect() as client:
        r = client.get_run(opts.id)
    data = run_dict(r)
    if opts.json or as_json:
        emit_json(data)
        return 0
    for key in (
        "id",
        "project",
        "user",
        "state",
        "node",
        "attempt",
        "exit_code",
        "reason",
        "command",
        "image",
        "runtime",
        "snapshot",
        "output_snapshot",
        "gpus",
        "created_at",
        "started_at",
        "finished_at",
    ):
        print(f"{key:>16}: {data[key] if data[key] not in (None, []) else '-'}")
    table(
        ["TIME", "STATE", "ATTEMPT", "NODE", "CAUSE"],
        [(when(e.time), e.state, e.attempt, e.node, e.cause) for e in r.events],
    )
    return 0


def list_runs(args: argparse.Namespace) -> int:
    text = " and ".join(x for x in (args.filter and f"({args.filter})", args.state and f"state = '{args.state}'") if x)
    with connect() as client:
        if args.filter or args.sort:
            found = client.search_runs(args.project, text, args.sort, args.limit)
        else:
            found = client.list_runs(args.project, args.state, args.limit)
    data = [run_dict(r) for r in found]
    if args.json:
        emit_json(data)
    else:
        table(
            ["ID", "PROJECT", "STATE", "NODE", "USER", "CREATED", "DURATION", "COMMAND"],
            [
                (
                    d["id"],
                    d["project"],
                    d["state"],
                    d["node"],
                    d["user"],
                    d["created_at"],
                    "" if d["duration_s"] is None else f"{d['duration_s']}s",
                    " ".join(r.spec.command)[:60],
                )
                for d, r in zip(data, found, strict=True)
            ],
            "no runs",
        )
    return 0


def logs(args: argparse.Namespace) -> int:
    with connect() as client:
        _print_logs(client, args.id, args.follow)
    return 0


def cancel(args: argparse.Namespace) -> int:
    with connect() as client:
        r = client.cancel_run(args.id)
    print(f"run {r.id}: {'cancelled' if r.state.terminal else 'cancelling'}")
    return 0
