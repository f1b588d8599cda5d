"""Workspaces: a tool (Jupyter) as a tracked run of kind workspace, on a node the scheduler picks, in the
environment asked for, from a snapshot of the project; reached through a tunnel (coordinator/rpc/tunnels.py),
saved into the project as snapshots (its agent pushes its folder), stopped after idling.

A workspace is a row naming its latest run; the run is an ordinary run (billed, listed, traced) tagged
`kiln.workspace`, whose command is the launcher (kiln/workspace) on the host network (the tunnel dials the
node's loopback). Who may open, save or stop one: its owner, the project's owners and admins; the project's
readers see it listed, without its tool's token.

Idle: the latest of the run's start, the launcher's activity reports (a kernel busy, the tool's processes
using CPU) and tunnel traffic; past the limit less WARN_BEFORE_S the owner is warned (on the record the CLI,
desktop and tray show), at the limit it is saved and stopped.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from kiln.coordinator import runs
from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.core import clock, limits
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from kiln.core.names import check_name
from kiln.core.permissions import Need, Principal
from kiln.core.runs import Run, RunSpec
from kiln.core.workspaces import (
    ACTIVE_TAG,
    PATH_TAG,
    PORT_TAG,
    SAVED_TAG,
    TAG,
    TOOLS,
    Workspace,
    idle_action,
)

log = logging.getLogger("kiln.coordinator.workspaces")

SAVE_TIMEOUT_S = 300.0  # how long a save waits for the node to push the folder
MAX_IDLE_LIMIT_S = 30 * 86400.0
IDLE_PASS_S = 30.0  # how often running workspaces are looked at for idling
SAVE_POLL_S = 0.1  # how often a save looks for the node's answer


class Nodes(Protocol):
    """What of the agent link workspaces use (coordinator/rpc/link.py), from any thread."""

    def save_folder(self, node: str, run_id: str, attempt: int, request_id: str, message: str) -> bool:
        """Asks `node` to snapshot a run's folder; False when the node is not connected."""
        ...


def start(
    ctx: Coordinator,
    who: Principal,
    project: str,
    name: str,
    tool: str,
    spec: RunSpec,
    python: str,
    idle_limit_s: float,
) -> Workspace:
    check_name("workspace", name)
    if tool not in TOOLS:
        raise InvalidArgument(f"unknown tool {tool!r}; use {' or '.join(TOOLS)}")
    limits.TRACK_VALUE.check(python, field="python")
    if not 0 <= idle_limit_s <= MAX_IDLE_LIMIT_S:
        raise InvalidArgument(f"the idle limit must be 0 (the default) to {MAX_IDLE_LIMIT_S / 86400:g} days")
    require_project(ctx.store, who, Need.WRITE, project)
    old = ctx.store.workspace(project, name)
    if old is not None:
        run = ctx.store.run(old["run_id"], with_events=False)
        if run is not None and not run.state.terminal:
            raise AlreadyExists(f"workspace {name} is {run.state} (run {run.id}); open it, or stop it first")
    snapshot = spec.snapshot or next((s.id for s in ctx.store.snapshots(project, limit=1)), "")
    command = (python or "python3", "-m", "kiln.workspace", "--tool", tool)
    spec = replace(spec, project=project, command=command, snapshot=snapshot, network="host",
                   env={**spec.env, "KILN_WORKSPACE": name})  # fmt: skip
    run = runs.queue_internal(ctx, who, spec, "workspace.start")
    limit = idle_limit_s or (ctx.config.workspace_idle_gpu_s if spec.resources.gpus else ctx.config.workspace_idle_s)
    now = clock.now()
    with ctx.store.transaction():
        ctx.store.add_tags(run.id, {TAG: name})
        ctx.store.put_workspace(
            {"project": project, "name": name, "run_id": run.id, "tool": tool, "owner": who.user, "created_at": now,
             "idle_limit_s": limit, "last_active": now, "warned_at": 0.0, "stop_reason": "",
             "last_saved": old["last_saved"] if old else "", "last_saved_at": old["last_saved_at"] if old else 0.0,
             "shared": 0}
        )  # fmt: skip
        ctx.store.append_audit(who.user, "workspace.start", f"{project}/{name}", {"run": run.id, "tool": tool})
    return get(ctx, who, project, name)


def _row(ctx: Coordinator, who: Principal, project: str, name: str, need: Need = Need.READ) -> dict[str, Any]:
    require_project(ctx.store, who, need, project)
    row = ctx.store.workspace(project, name)
    if row is None:
        raise NotFound(f"project {project} has no workspace {name!r} (kiln workspace list -p {project})")
    return row


def may_use(ctx: Coordinator, who: Principal, row: dict[str, Any]) -> None:
    """Opening, saving and stopping: its owner and admins; the project's owners too once the owner shared it."""
    if row["owner"] == who.user or who.is_admin:
        return
    if not row["shared"]:
        raise PermissionDenied(
            f"workspace {row['name']} is {row['owner']}'s; they may share it with the project's owners "
            f"(kiln workspace share {row['name']} -p {row['project']})"
        )
    require_project(ctx.store, who, Need.MANAGE, row["project"])


def share(ctx: Coordinator, who: Principal, project: str, name: str, shared: bool) -> Workspace:
    """The owner lets the project's owners open, save and stop it too (or no longer)."""
    row = _row(ctx, who, project, name, Need.WRITE)
    if row["owner"] != who.user and not who.is_admin:
        raise PermissionDenied(f"only {row['owner']}, its owner, shares workspace {name}")
    with ctx.store.transaction():
        ctx.store.update_workspace(project, name, shared=int(shared))
        ctx.store.append_audit(who.user, "workspace.share", f"{project}/{name}", {"shared": shared})
    return get(ctx, who, project, name)


def _view(ctx: Coordinator, who: Principal, row: dict[str, Any], run: Run | None) -> Workspace:
    tags = ctx.store.tags(row["run_id"]) if run is not None else {}
    reported = float(tags.get(ACTIVE_TAG, 0) or 0) / 1000.0
    traffic = ctx.tunnel_traffic.get(row["run_id"], 0.0)
    started = run.started_at if run is not None else 0.0
    may_open = row["owner"] == who.user or who.is_admin or bool(row["shared"])
    return Workspace(
        project=row["project"],
        name=row["name"],
        run_id=row["run_id"],
        tool=row["tool"],
        owner=row["owner"],
        state=("stopping" if run.cancel_requested and not run.state.terminal else str(run.state)) if run else "unknown",
        node=run.node if run is not None else "",
        gpus=len(run.gpu_uuids) if run is not None else 0,
        created_at=row["created_at"],
        last_active=max(row["last_active"], reported, traffic, started),
        idle_limit_s=row["idle_limit_s"],
        warned_at=row["warned_at"],
        last_saved=row["last_saved"],
        last_saved_at=row["last_saved_at"],
        port=int(tags.get(PORT_TAG, 0) or 0),
        path=tags.get(PATH_TAG, "") if may_open else "",
        stop_reason=row["stop_reason"],
        shared=bool(row["shared"]),
    )


def get(ctx: Coordinator, who: Principal, project: str, name: str) -> Workspace:
    row = _row(ctx, who, project, name)
    return _view(ctx, who, row, ctx.store.run(row["run_id"], with_events=False))


def listing(ctx: Coordinator, who: Principal, project: str, everything: bool) -> list[Workspace]:
    """The project's workspaces ("": of every project the caller reads), those that ended too with `everything`."""
    projects = runs.readable_projects(ctx, who, project)
    rows = ctx.store.workspaces(project) if project else ctx.store.all_workspaces(projects)
    found = []
    for row in rows:
        run = ctx.store.run(row["run_id"], with_events=False)
        if everything or (run is not None and not run.state.terminal):
            found.append(_view(ctx, who, row, run))
    return found


@dataclass(frozen=True)
class SaveAsked:
    """A save the node was asked for: the tag its snapshot comes back as, on the workspace's run."""

    name: str
    run_id: str
    node: str
    key: str


def save(ctx: Coordinator, nodes: Nodes, who: Principal, project: str, name: str, message: str) -> Workspace:
    """Snapshots the workspace's folder into the project, waiting for its node (SAVE_TIMEOUT_S)."""
    asked = begin_save(ctx, nodes, who, project, name, message)
    return finish_save(ctx, who, project, name, _wait(ctx, asked))


def begin_save(ctx: Coordinator, nodes: Nodes, who: Principal, project: str, name: str, message: str) -> SaveAsked:
    limits.MESSAGE.text(message, field="save message")
    row = _row(ctx, who, project, name, Need.WRITE)
    may_use(ctx, who, row)
    return _ask(ctx, nodes, row, message or f"workspace {name} saved by {who.user}")


def finish_save(ctx: Coordinator, who: Principal, project: str, name: str, snapshot: str) -> Workspace:
    with ctx.store.transaction():
        ctx.store.update_workspace(project, name, last_saved=snapshot, last_saved_at=clock.now())
        ctx.store.append_audit(who.user, "workspace.save", f"{project}/{name}", {"snapshot": snapshot})
    return get(ctx, who, project, name)


def _ask(ctx: Coordinator, nodes: Nodes, row: dict[str, Any], message: str) -> SaveAsked:
    run = ctx.store.run(row["run_id"], with_events=False)
    if run is None or str(run.state) != "running":
        raise FailedPrecondition(f"workspace {row['name']} is {run.state if run else 'gone'}; only a running one saves")
    request_id = secrets.token_hex(8)
    if not nodes.save_folder(run.node, run.id, run.attempt, request_id, message):
        raise Unavailable(f"node {run.node} is not connected now; save again when it is")
    return SaveAsked(row["name"], run.id, run.node, f"{SAVED_TAG}{request_id}")


def told(ctx: Coordinator, asked: SaveAsked) -> str | None:
    """The snapshot the node made for `asked`, None while it has not said; raises what it could not do."""
    said = ctx.store.tags(asked.run_id).get(asked.key)
    if said is not None and said.startswith("error: "):
        raise FailedPrecondition(f"node {asked.node} could not save workspace {asked.name}: {said[7:]}")
    return said


def late(asked: SaveAsked) -> Unavailable:
    return Unavailable(f"node {asked.node} did not save workspace {asked.name} within {SAVE_TIMEOUT_S:g} s")


def _wait(ctx: Coordinator, asked: SaveAsked) -> str:
    """On a thread of its own (the idle watch's): the servicer waits on its event loop instead."""
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while time.monotonic() < deadline:
        said = told(ctx, asked)
        if said is not None:
            return said
        time.sleep(SAVE_POLL_S)  # the node pushes the folder, then reports through its spool
    raise late(asked)


def stop(ctx: Coordinator, nodes: Nodes, who: Principal, project: str, name: str, reason: str = "") -> Workspace:
    """Saves the workspace's folder (always first: nothing is lost), then stops its run."""
    asked = begin_stop(ctx, nodes, who, project, name)
    return finish_stop(ctx, who, project, name, _wait(ctx, asked) if asked else "", reason)


def begin_stop(ctx: Coordinator, nodes: Nodes, who: Principal, project: str, name: str) -> SaveAsked | None:
    """The save a stop waits for (None: the workspace is not running yet, so it has nothing to save)."""
    row = _row(ctx, who, project, name, Need.WRITE)
    may_use(ctx, who, row)
    run = ctx.store.run(row["run_id"], with_events=False)
    if run is None or run.state.terminal:
        raise FailedPrecondition(f"workspace {name} already ended ({run.state if run else 'gone'})")
    return _ask(ctx, nodes, row, f"workspace {name} stopped by {who.user}") if str(run.state) == "running" else None


def finish_stop(ctx: Coordinator, who: Principal, project: str, name: str, saved: str, reason: str = "") -> Workspace:
    row = _row(ctx, who, project, name, Need.WRITE)
    run = ctx.store.run(row["run_id"], with_events=False)
    now = clock.now()
    with ctx.store.transaction():
        if saved:
            ctx.store.update_workspace(project, name, last_saved=saved, last_saved_at=now)
        ctx.store.update_workspace(project, name, stop_reason=reason or f"stopped by {who.user}")
        if run is not None and not run.state.terminal:
            runs.stop(ctx.store, run, f"workspace stopped by {who.user}", now)
        ctx.store.append_audit(who.user, "workspace.stop", f"{project}/{name}", {"saved": saved, "reason": reason})
    return get(ctx, who, project, name)


SYSTEM = Principal("system", is_admin=True)


def idle_pass(ctx: Coordinator, nodes: Nodes, now: float) -> list[tuple[str, str, str]]:
    """One look at every running workspace: (project, name, action) of those warned, cleared or stopped."""
    done = []
    for row in ctx.store.running_workspaces():
        run = ctx.store.run(row["run_id"], with_events=False)
        if run is None or run.cancel_requested:  # being stopped already
            continue
        view = _view(ctx, SYSTEM, row, run)
        action = idle_action(now, view.last_active, view.idle_limit_s, view.warned_at)
        if action == "warn":
            ctx.store.update_workspace(row["project"], row["name"], warned_at=now)
        elif action == "clear":
            ctx.store.update_workspace(row["project"], row["name"], warned_at=0.0)
        elif action == "stop":
            idle = f"idle for {(now - view.last_active) / 60:.0f} min (no kernel busy, no CPU used, no tunnel traffic)"
            try:
                stop(ctx, nodes, SYSTEM, row["project"], row["name"], idle)
            except Exception as e:  # one workspace that cannot be saved must not stop the watch
                log.warning("could not stop idle workspace %s/%s: %s", row["project"], row["name"], e)
                continue
        if action:
            done.append((row["project"], row["name"], action))
    return done


def from_workspace(ctx: Coordinator, who: Principal, project: str, name: str) -> str:
    """The snapshot a run promoted from the workspace starts from: its last save."""
    row = _row(ctx, who, project, name)
    if not row["last_saved"]:
        raise FailedPrecondition(f"workspace {name} was never saved: kiln workspace save {name} -p {project} first")
    return str(row["last_saved"])


class IdleWatch:
    """`idle_pass` every `every_s`, on a thread of its own (a stop waits for its save)."""

    def __init__(self, ctx: Coordinator, nodes: Nodes, every_s: float = IDLE_PASS_S) -> None:
        self.ctx, self.nodes, self.every_s = ctx, nodes, every_s
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kiln-idle")

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await loop.run_in_executor(self._thread, idle_pass, self.ctx, self.nodes, clock.now())
            except Exception:  # a bug in one pass must not end the watch
                log.exception("a workspace idle pass failed")

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)
