"""`kiln workspace …`: Jupyter (or another tool) on a node, opened from here through the coordinator."""

from __future__ import annotations

import argparse
import time
from typing import Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.forwarding import forward_until_stopped
from kiln.cli.output import emit_json, info, table, when
from kiln.cli.session import connect
from kiln.core import clock
from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.runs import Resources, RunSpec
from kiln.core.units import format_duration, parse_duration, parse_size
from kiln.core.workspaces import DEFAULT_TOOL, TOOLS, Workspace

OPEN_WAIT_S = 180.0  # how long `open` waits for the tool to start listening


def register(sub: Any) -> None:
    g = group(sub, "workspace", "Jupyter and other tools on a node, opened from here, saved into the project")
    p = command(g, "start", "start a workspace from the project's latest snapshot (or --snapshot)", start)
    p.add_argument("name")
    add_project(p)
    p.add_argument("--tool", default=DEFAULT_TOOL, choices=TOOLS)
    p.add_argument("--env", "-e", default="", metavar="NAME[:V]", help="the environment it runs in")
    p.add_argument("--snapshot", default="", help="start from this snapshot (default: the project's latest)")
    p.add_argument("--python", default="", help="the interpreter on the node (default: python3, or the environment's)")
    p.add_argument("--image", default="")
    p.add_argument("--runtime", default="", choices=["", "docker", "process"])
    p.add_argument("--cpus", type=float, default=1.0)
    p.add_argument("--memory", default="0", help="e.g. 8G")
    p.add_argument("--gpus", type=int, default=0)
    p.add_argument(
        "--idle", default="", metavar="DURATION", help="stop after idling this long (default: 2h with GPUs, else 8h)"
    )
    add_json(p)
    p = command(g, "list", "the project's workspaces", listing)
    add_project(p)
    p.add_argument("--all", action="store_true", help="also those that ended")
    add_json(p)
    for name, what, handler in (
        ("show", "one workspace: state, node, idle time, last save", show),
        ("stop", "save the workspace's folder into the project, then stop it", stop),
    ):
        p = command(g, name, what, handler)
        p.add_argument("name")
        add_project(p)
        add_json(p)
    p = command(g, "share", "let the project's owners open, save and stop your workspace too", share)
    p.add_argument("name")
    add_project(p)
    p.add_argument("--off", action="store_true", help="no longer")
    add_json(p)
    p = command(g, "save", "snapshot the workspace's folder into the project (with its ignore rules)", save)
    p.add_argument("name")
    add_project(p)
    p.add_argument("--message", "-m", default="")
    add_json(p)
    p = command(g, "open", "open the workspace's tool in a browser, through the coordinator (Ctrl-C closes)", open_)
    p.add_argument("name")
    add_project(p)
    p.add_argument("--local", type=int, default=0, help="the local port (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    p = command(g, "port", "reach another port of the workspace (TensorBoard, Streamlit…) from a local one", port)
    p.add_argument("name")
    p.add_argument("remote_port", type=int)
    add_project(p)
    p.add_argument("--local", type=int, default=0)


def workspace_dict(w: Workspace) -> dict[str, object]:
    now = clock.now()
    return {
        "project": w.project, "name": w.name, "run": w.run_id, "tool": w.tool, "owner": w.owner, "state": w.state,
        "node": w.node, "gpus": w.gpus, "created_at": w.created_at, "idle_s": round(w.idle_s(now), 1),
        "idle_limit_s": w.idle_limit_s, "warned_at": w.warned_at, "last_saved": w.last_saved,
        "last_saved_at": w.last_saved_at, "stop_reason": w.stop_reason, "shared": w.shared,
    }  # fmt: skip


def _said(w: Workspace, as_json: bool, client: Any = None) -> int:
    if as_json:
        emit_json(workspace_dict(w))
        return 0
    now = clock.now()
    if w.state == "failed" and client is not None:
        why = _why_it_ended(client, w)
        print(f"workspace {w.name} ({w.tool}) of {w.owner}: failed on {w.node or '-'}, run {w.run_id}{why}")
        return 0
    idle = f"idle {format_duration(w.idle_s(now))} of {format_duration(w.idle_limit_s)}"
    if w.warned_at:
        idle += f": stops when idle {format_duration(w.idle_limit_s)} (warned {when(w.warned_at)})"
    print(f"workspace {w.name} ({w.tool}) of {w.owner}: {w.state} on {w.node or '-'}, run {w.run_id}, {idle}")
    print(f"last saved: {w.last_saved[:12] + ' at ' + when(w.last_saved_at) if w.last_saved else 'never'}")
    if w.stop_reason and w.state != "running":
        print(f"stopped: {w.stop_reason}")
    return 0


def start(args: argparse.Namespace) -> int:
    project = project_of(args)
    try:
        resources = Resources(args.cpus, parse_size(args.memory), args.gpus)
        idle = parse_duration(args.idle) if args.idle else 0.0
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    spec = RunSpec(project, (), args.snapshot, args.image, args.runtime, resources, environment=args.env)
    with connect() as client:
        w = client.start_workspace(project, args.name, spec, args.tool, args.python, idle)
    if not args.json:
        info(f"open it with: kiln workspace open {w.name} -p {project}")
    return _said(w, args.json)


def listing(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        found = client.list_workspaces(project, args.all)
    if args.json:
        emit_json([workspace_dict(w) for w in found])
        return 0
    now = clock.now()
    rows = [
        [w.name, w.tool, w.owner, w.state, w.node or "-", str(w.gpus), format_duration(w.idle_s(now)),
         w.last_saved[:12] or "-"]
        for w in found
    ]  # fmt: skip
    table(["NAME", "TOOL", "OWNER", "STATE", "NODE", "GPUS", "IDLE", "SAVED"], rows, empty="no workspaces")
    return 0


def show(args: argparse.Namespace) -> int:
    with connect() as client:
        return _said(client.get_workspace(project_of(args), args.name), args.json, client)


def stop(args: argparse.Namespace) -> int:
    with connect() as client:
        return _said(client.stop_workspace(project_of(args), args.name), args.json)


def share(args: argparse.Namespace) -> int:
    with connect() as client:
        return _said(client.share_workspace(project_of(args), args.name, not args.off), args.json)


def save(args: argparse.Namespace) -> int:
    with connect() as client:
        w = client.save_workspace(project_of(args), args.name, args.message)
    if args.json:
        emit_json(workspace_dict(w))
    else:
        print(f"saved workspace {w.name} as snapshot {w.last_saved}")
    return 0


def _why_it_ended(client: Any, w: Workspace) -> str:
    """What the launcher said when the tool could not start (its last words on stderr), or where to look."""
    said = b"".join(c.data for c in client.read_logs(w.run_id) if c.stream == "stderr").decode(errors="replace")
    told = [line for line in said.splitlines() if line.startswith("kiln.workspace:")]
    return f": {told[-1]}" if told else f" (kiln logs {w.run_id} says why)"


def _running(client: Any, project: str, name: str) -> Workspace:
    """The workspace once its tool listens (waiting for it to start, saying so)."""
    deadline = time.monotonic() + OPEN_WAIT_S
    told = False
    while True:
        w = client.get_workspace(project, name)
        if w.state in ("succeeded", "failed", "cancelled", "lost", "preempted"):
            why = _why_it_ended(client, w)
            raise FailedPrecondition(
                f"workspace {name} ended ({w.state}){why}; start it again: kiln workspace start {name}"
            )
        if w.running and w.port:
            return w
        if time.monotonic() > deadline:
            raise FailedPrecondition(f"workspace {name} is {w.state}: its tool did not start within {OPEN_WAIT_S:g} s")
        if not told:
            info(f"waiting for workspace {name} to start ({w.state})…")
            told = True
        time.sleep(0.5)


def open_(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        w = _running(client, project, args.name)
        if not w.path:
            raise FailedPrecondition(f"workspace {w.name} is {w.owner}'s; only its owner opens it")
        url = f"http://127.0.0.1:{{local}}{w.path}"
        return forward_until_stopped(client, w.run_id, w.port, args.local, url, browse=not args.no_browser)


def port(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        w = _running(client, project, args.name)
        return forward_until_stopped(client, w.run_id, args.remote_port, args.local, "http://127.0.0.1:{local}")
