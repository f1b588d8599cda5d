"""`kiln run`, `rerun`, `runs`, `run show`, `logs`, `cancel`."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.cli.common import add_json, add_project, command, project_of
from kiln.cli.output import emit_json, emit_json_stream, info, stream_table, when
from kiln.cli.progress import reporter_for
from kiln.cli.session import cache_dir, connect
from kiln.core.errors import InvalidArgument, NotFound
from kiln.core.models import RunValues
from kiln.core.runs import Priority, Resources, Run, RunSpec, dropped_note
from kiln.core.units import format_bytes, parse_size

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
  kiln run -p demo --env ml:2 -- python train.py       in version 2 of environment ml (kiln env list)
  kiln run -p demo --gpus 2 --gpu-model a100 --memory 32G --priority high -- python train.py
  kiln run show RUN_ID --json                          one run: its spec, states, params, metrics, outputs
  kiln rerun RUN_ID --follow                           the same run again, recorded as its rerun
"""

RUNS_HELP = (
    SEARCH_HELP
    + """\
columns: --columns params.lr,metrics.acc adds those values to the table and to --json ("columns");
a --sort by a param, metric or tag shows that column too.
"""
)


def register(sub: Any) -> None:
    p = command(
        sub,
        "run",
        "push the working folder and run a command on the cluster",
        run,
        epilog=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_project(p)
    add_run_options(p)
    p.add_argument(
        "--from-workspace", default="", metavar="NAME", help="run what workspace NAME saved last (kiln workspace save)"
    )
    p.add_argument("--follow", "-f", action="store_true", help="stream the logs and exit with the run's exit code")
    add_json(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run (or: show RUN_ID, port RUN PORT)")
    p = command(
        sub,
        "rerun",
        "run a run again: same snapshot, datasets, image, command, env and resources",
        rerun,
        description="Queue a new run with the same snapshot, dataset versions, image and runtime, command, env "
        "vars, resources, priority, labels, retries, network and parent as RUN, recorded as its rerun (in kiln "
        "run show and the lineage). kiln compare RUN NEW then shows the two side by side.",
    )
    p.add_argument("id", metavar="RUN", help="the run to repeat (its id, or a unique prefix such as r-1a2b)")
    p.add_argument("--follow", "-f", action="store_true", help="stream the logs and exit with the run's exit code")
    add_json(p)
    p = command(
        sub,
        "runs",
        "list or search runs, newest first",
        list_runs,
        epilog=RUNS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_project(p, "only this project's runs (default: $KILN_PROJECT, else kiln project use's; else all yours)")
    p.add_argument("--state", default="")
    p.add_argument("--filter", default="", help='e.g. "params.lr > 0.01 and metrics.acc >= 0.9"')
    p.add_argument("--sort", default="", help="e.g. -metrics.acc (a leading - sorts descending)")
    p.add_argument(
        "--columns",
        default="",
        metavar="KEYS",
        help="values to show for each run, comma-separated: params.NAME, metrics.NAME (last value), tags.NAME",
    )
    p.add_argument("--limit", type=int, default=100, help="at most this many runs (0: every one)")
    add_json(p)
    p = command(sub, "logs", "a run's output", logs)
    p.add_argument("id", metavar="RUN", help="a run id, or a unique prefix such as r-1a2b")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming until the run ends (Ctrl-C stops)")
    p.add_argument(
        "--tail",
        metavar="SIZE",
        default="",
        help="only the end: the last whole chunks holding SIZE of output (e.g. 64K, 1M); with -f, then follow",
    )
    p = command(sub, "cancel", "cancel a run (SIGTERM, a grace period, then SIGKILL)", cancel)
    p.add_argument("id", metavar="RUN", help="a run id, or a unique prefix such as r-1a2b")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """What a run is made of, as `kiln run` takes it (and `kiln schedule create`, for the run it fires)."""
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
    p.add_argument(
        "--env",
        "-e",
        action="append",
        default=[],
        metavar="NAME[:V] | K=V",
        help="the environment to run in (NAME or NAME:VERSION; default: the project's, kiln env default), "
        "or, with '=', an environment variable (repeatable)",
    )
    p.add_argument("--network", default="none", choices=["none", "host", "bridge"], help="container network")
    p.add_argument("--retries", type=int, default=0, help="attempts after the first if the node is lost")
    p.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME[:VERSION]",
        help="a dataset version the job reads (the latest unless given), in every runtime at "
        "$KILN_DATASETS/NAME (Docker: /datasets/NAME) and $KILN_DATASET_<NAME>: one read-only folder "
        "per dataset name",
    )
    p.add_argument("--parent", default="", metavar="RUN", help="the run this one continues (kiln rerun repeats one)")
    p.add_argument("--message", "-m", default="", help="message for the pushed snapshot")


def spec_from_args(client: Client, args: argparse.Namespace, project: str, words: list[str]) -> RunSpec:
    """The RunSpec the options of add_run_options ask for, pushing the folder unless --snapshot names one."""
    try:
        resources = Resources(args.cpus, parse_size(args.memory), args.gpus, args.gpu_model)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    environment, variables = _environment_and_variables(args.env)
    snapshot = args.snapshot
    if getattr(args, "from_workspace", ""):  # "promote to run": the workspace's last saved state
        saved = client.get_workspace(project, args.from_workspace)
        if not saved.last_saved:
            raise InvalidArgument(
                f"workspace {saved.name} was never saved: kiln workspace save {saved.name} -p {project} first"
            )
        snapshot = saved.last_saved
    if not snapshot:
        from kiln.sync.push import push

        snapshot = push(
            client,
            args.path.resolve(),
            project,
            args.message or f"kiln run {' '.join(words)}",
            cache_dir(),
            reporter_for(args.json),
        ).snapshot.id
    return RunSpec(
        project,
        tuple(words),
        snapshot,
        args.image,
        args.runtime,
        resources,
        Priority.parse(args.priority),
        _pairs(args.label, "label"),
        args.retries,
        variables,
        args.network,
        tuple(args.dataset),
        args.parent,
        environment=environment,
    )


def _pairs(items: list[str], what: str) -> dict[str, str]:
    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{what} {item!r} must look like KEY=VALUE")
        found[key] = value
    return found


def _environment_and_variables(items: list[str]) -> tuple[str, dict[str, str]]:
    """--env NAME[:V] names the environment (once); --env K=V sets a variable, as it always has."""
    names = [i for i in items if "=" not in i]
    if len(names) > 1:
        raise InvalidArgument(f"a run has one environment; --env named {', '.join(names)}")
    return (names[0] if names else ""), _pairs([i for i in items if "=" in i], "env")


def run_dict(r: Run) -> dict[str, object]:
    """A run as `--json` shows it: its state and where it ran, and the whole spec it was submitted with."""
    end = r.finished_at or 0
    s = r.spec
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
        "environment": s.environment or None,
        "builds": s.builds or None,
        "runtime": r.runtime or r.spec.runtime or None,
        "snapshot": r.spec.snapshot,
        "output_snapshot": r.output_snapshot or None,
        "gpus": list(r.gpu_uuids),
        "resources": {
            "cpus": s.resources.cpus,
            "memory_bytes": s.resources.memory_bytes,
            "gpus": s.resources.gpus,
            "gpu_model": s.resources.gpu_model or None,
        },
        "priority": str(s.priority),
        "node_labels": dict(s.node_labels),
        "retries": s.retries,
        "env": dict(s.env),
        "network": s.network,
        "datasets": list(s.datasets),
        "parent_run": s.parent_run or None,
        "rerun_of": s.rerun_of or None,
        "cancel_requested": r.cancel_requested,
        # of its output, how much was dropped from the middle over the coordinator's cap at the time (0: none)
        "log_dropped_bytes": r.log_dropped_bytes,
        "log_cap_bytes": r.log_cap_bytes or None,
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
    if args.command[:1] == ["port"]:
        return port(args.command[1:])
    if not words:
        raise InvalidArgument("nothing to run: put the command after --, e.g. kiln run -p demo -- python train.py")
    project = project_of(args)
    environment, _ = _environment_and_variables(args.env)
    with connect() as client:
        spec = spec_from_args(client, args, project, words)
        try:
            submitted = client.submit_run(spec)
        except NotFound as e:
            if environment and "has no environment" in str(e):  # --env NAME where a variable was meant
                raise NotFound(f"{e}; to set an environment variable, use --env KEY=VALUE") from None
            raise
        return _submitted(client, submitted, args.follow, args.json)


def port(words: list[str]) -> int:
    """`kiln run port RUN REMOTE_PORT [--local P]`: a local port reaching a port of a running run (a
    dashboard, a notebook) through the coordinator, until Ctrl-C; only the run's user and project owners."""
    from kiln.cli.forwarding import forward_until_stopped

    parser = argparse.ArgumentParser(prog="kiln run port", description=port.__doc__)
    parser.add_argument("run")
    parser.add_argument("remote_port", type=int)
    parser.add_argument("--local", type=int, default=0, help="the local port (default: a free one)")
    asked = parser.parse_args(words)
    with connect() as client:
        run = client.get_run(asked.run)
        if str(run.state) != "running":
            raise InvalidArgument(f"run {run.id} is {run.state}; only a running run's ports can be reached")
        return forward_until_stopped(client, run.id, asked.remote_port, asked.local, "http://127.0.0.1:{local}")


def _submitted(client: Client, submitted: Run, follow: bool, as_json: bool) -> int:
    """What `run` and `rerun` say about the run they queued; with `follow`, its output and exit code."""
    if as_json and not follow:
        emit_json(run_dict(submitted))
        return 0
    again = f", a rerun of {submitted.spec.rerun_of}" if submitted.spec.rerun_of else ""
    info(f"run {submitted.id} queued in {submitted.spec.project}{again}")
    if not follow:
        print(submitted.id)
        return 0
    return _follow(client, submitted.id, as_json)


def rerun(args: argparse.Namespace) -> int:
    with connect() as client:
        return _submitted(client, client.rerun(args.id), args.follow, args.json)


INTERRUPTED = 130  # the exit code of a command stopped with Ctrl-C (128 + SIGINT)


def _print_logs(client: Client, run_id: str, follow: bool, tail: int = 0) -> bool:
    """Writes the run's output as it comes (with `tail`, from the last whole chunks holding that many bytes,
    saying on stderr how much came before); False if the person stopped following it with Ctrl-C, which
    stops only the following: the run goes on, and they are told how to follow or cancel it."""
    try:
        end = None  # where the last chunk ended: a next one starting past it follows output dropped
        for chunk in client.read_logs(run_id, follow=follow, tail_bytes=tail):
            if end is None and chunk.offset:
                info(f"({format_bytes(chunk.offset)} of earlier output not shown; kiln logs {run_id} shows all)")
            elif end is not None and chunk.offset > end:
                cap = client.get_run(run_id).log_cap_bytes
                sys.stdout.buffer.write(("\n" + dropped_note(chunk.offset - end, cap)).encode())
            end = chunk.offset + len(chunk.data)
            stream = sys.stderr if chunk.stream == "stderr" else sys.stdout
            stream.buffer.write(chunk.data)
            stream.flush()
    except KeyboardInterrupt:
        if not follow:
            raise
        info(
            f"\nstopped following run {run_id}; the run goes on. Follow it again with kiln logs {run_id} -f, "
            f"or stop it with kiln cancel {run_id}"
        )
        return False
    return True


def _follow(client: Client, run_id: str, as_json: bool) -> int:
    if not _print_logs(client, run_id, follow=True):
        return INTERRUPTED
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
    parser = argparse.ArgumentParser(
        prog="kiln run show",
        description="one run: its whole spec, state history, params, final metrics, artifacts, models, inputs "
        "and environment",
    )
    parser.add_argument("id", metavar="RUN", help="a run id, or a unique prefix such as r-1a2b")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args(rest)
    from kiln.cli.runview import print_record, record_dict

    with connect() as client:
        record = client.run_record(opts.id)
    if opts.json or as_json:
        emit_json(record_dict(record))
    else:
        print_record(record)
    return 0


def columns_of(args: argparse.Namespace) -> list[str]:
    """The columns asked for, then each param, metric or tag the runs are sorted by (shown by default)."""
    asked = [c.strip() for c in args.columns.split(",") if c.strip()]
    sorted_by = [k.strip().lstrip("-+") for k in args.sort.split(",")]
    return list(dict.fromkeys([*asked, *(k for k in sorted_by if "." in k)]))


def _cell(value: str | float | None) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def list_runs(args: argparse.Namespace) -> int:
    """The runs page by page as the coordinator sends them, so a long listing starts at once and is never
    held whole."""
    text = " and ".join(x for x in (args.filter and f"({args.filter})", args.state and f"state = '{args.state}'") if x)
    project = project_of(args, required=False)
    columns = columns_of(args)
    with connect() as client:
        if args.filter or args.sort or columns:
            pages = client.search_pages(project, text, args.sort, args.limit, columns)
        else:
            pages = ([(r, RunValues()) for r in page] for page in client.run_pages(project, args.state, args.limit))
        if args.json:
            emit_json_stream(_listed(r, values, columns) for page in pages for r, values in page)
            return 0
        stream_table(
            ["ID", "PROJECT", "STATE", "NODE", "USER", "CREATED", "DURATION", *(c.upper() for c in columns), "COMMAND"],
            ([_row(r, values, columns) for r, values in page] for page in pages),
            "no runs",
        )
    return 0


def _listed(r: Run, values: RunValues, columns: list[str]) -> dict[str, object]:
    d = run_dict(r)
    if columns:
        d["columns"] = {c: _json_value(values.get(c)) for c in columns}
    return d


def _row(r: Run, values: RunValues, columns: list[str]) -> tuple[object, ...]:
    d = run_dict(r)
    duration = "" if d["duration_s"] is None else f"{d['duration_s']}s"
    head = (d["id"], d["project"], d["state"], d["node"], d["user"], d["created_at"], duration)
    return (*head, *(_cell(values.get(c)) for c in columns), " ".join(r.spec.command)[:60])


def _json_value(value: str | float | None) -> str | float | None:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def logs(args: argparse.Namespace) -> int:
    try:
        tail = parse_size(args.tail) if args.tail else 0
    except ValueError as e:
        raise InvalidArgument(f"--tail: {e}") from None
    if args.tail and not tail:
        raise InvalidArgument("--tail: give a size above 0, e.g. 64K (or leave it out for the whole log)")
    with connect() as client:
        return 0 if _print_logs(client, args.id, args.follow, tail) else INTERRUPTED


def cancel(args: argparse.Namespace) -> int:
    with connect() as client:
        r = client.cancel_run(args.id)
    print(f"run {r.id}: {'cancelled' if r.state.terminal else 'cancelling'}")
    return 0
