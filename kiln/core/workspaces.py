"""Workspaces: a tool (Jupyter…) running as a tracked run of kind workspace on a node, reached through a
tunnel, saved into the project as snapshots, stopped when idle. The record, and the idle rule."""

from __future__ import annotations

from dataclasses import dataclass

TAG = "kiln.workspace"  # on a workspace's run: its name
TOOLS = ("jupyter-server", "jupyterlab")
DEFAULT_TOOL = "jupyter-server"
IDLE_LIMIT_S = 8 * 3600.0  # a workspace without GPUs (kiln coordinator --workspace-idle, admin-configurable)
IDLE_LIMIT_GPU_S = 2 * 3600.0  # one holding GPUs: idle GPUs are the dearest thing a team owns
WARN_BEFORE_S = 15 * 60.0  # the owner is warned this long before an idle stop
# What the launcher (kiln/workspace, which keeps its own copies of these names) tells through kiln.track:
PORT_TAG = "kiln.workspace.port"
PATH_TAG = "kiln.workspace.path"
ACTIVE_TAG = "kiln.workspace.active_at"  # ms since the epoch
SAVED_TAG = "kiln.workspace.saved."  # + request id: the snapshot the agent made of the workspace's folder


@dataclass(frozen=True)
class Workspace:
    project: str
    name: str
    run_id: str
    tool: str
    owner: str
    state: str  # its run's state
    node: str = ""
    gpus: int = 0
    created_at: float = 0.0
    last_active: float = 0.0  # the latest of: started, a kernel busy, CPU used, tunnel traffic
    idle_limit_s: float = IDLE_LIMIT_S
    warned_at: float = 0.0  # when the idle warning was given (0: not now)
    last_saved: str = ""  # the snapshot of its folder saved last
    last_saved_at: float = 0.0
    port: int = 0  # where the tool listens on the node's loopback (0: not yet)
    path: str = ""  # where a browser opens, token included (shown to its owner only)
    stop_reason: str = ""
    shared: bool = False  # the project's owners may open, save and stop it too

    @property
    def running(self) -> bool:
        return self.state == "running"

    def idle_s(self, now: float) -> float:
        return max(0.0, now - self.last_active) if self.last_active else 0.0


def idle_action(now: float, last_active: float, limit_s: float, warned_at: float) -> str:
    """What the idle watch does now: "stop" once idle `limit_s`, "warn" from WARN_BEFORE_S before (once),
    "clear" when activity came back after a warning, else ""."""
    idle = now - last_active
    if idle >= limit_s:
        return "stop"
    if idle >= limit_s - WARN_BEFORE_S:
        return "" if warned_at else "warn"
    return "clear" if warned_at else ""
