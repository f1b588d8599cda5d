"""What the admin tray watches: the nodes, the run queue and the firing alerts, read on a timer through the
ops helper, and the few things IT does from the tray (drain, undrain, join tokens). Every view of the tray (the icon's
menu, the fallback window, the admin window's node tab) reads this one object, so they never disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiln.client import Client
from kiln.core.errors import KilnError, Unavailable
from kiln.core.models import JoinToken, Node
from kiln.core.monitoring import Alert
from kiln.core.runs import RunState
from kiln.core.workspaces import Workspace
from kiln.desktop.ops import Op, Runner, describe
from kiln.desktop.qt import QObject, QTimer, Signal
from kiln.desktop.tray.health import Health, cluster_health

WATCH_MS = 3000
RUNNING = (RunState.ASSIGNED, RunState.PREPARING, RunState.RUNNING)  # all hold a node
FIRING_SHOWN = 3  # the newest firing alerts the tray names; the rest are counted


@dataclass(frozen=True)
class ClusterState:
    nodes: list[Node]
    queued: int
    running: int
    firing: tuple[Alert, ...] = ()  # of every project the user reads, newest first
    alerts_problem: str = ""  # why the alerts could not be read ("" when they were)
    idle_soon: tuple[Workspace, ...] = ()  # workspaces warned: idle, to be saved and stopped soon


def read_cluster(client: Client) -> ClusterState:
    """One look at the cluster (run off the GUI thread)."""
    nodes = client.list_nodes()
    queued = len(client.list_runs(state=str(RunState.QUEUED)))
    running = sum(len(client.list_runs(state=str(s))) for s in RUNNING)
    firing, problem = read_firing(client)
    try:
        idle = tuple(w for w in client.list_workspaces("") if w.running and w.warned_at)
    except Unavailable:
        raise
    except KilnError:  # an older coordinator: no workspaces to warn of
        idle = ()
    return ClusterState(nodes, queued, running, firing, problem, idle)


def idle_text(idle: Sequence[Workspace], shown: int = FIRING_SHOWN) -> str:
    """Warned workspaces in one line: "Workspaces idle, stopping soon: demo/nb (ana); …" ("" when none)."""
    if not idle:
        return ""
    named = "; ".join(f"{w.project}/{w.name} ({w.owner})" for w in idle[:shown])
    more = f"; and {len(idle) - shown} more" if len(idle) > shown else ""
    return f"Workspaces idle, stopping soon: {named}{more}"


def read_firing(client: Client) -> tuple[tuple[Alert, ...], str]:
    """The firing alerts (newest first) and "", or none and why: a refusal to list alerts says so in the
    alerts' line rather than paint the whole cluster red (a lost coordinator still fails the look)."""
    try:
        return tuple(client.list_alerts("", "firing")), ""
    except Unavailable:
        raise
    except KilnError as e:
        return (), describe(e)


def firing_text(firing: Sequence[Alert], problem: str = "", shown: int = FIRING_SHOWN) -> str:
    """The alerts in one line: "Alerts: 2 firing: demo: Data drift on endpoint churn; …"."""
    if problem:
        return f"Alerts: could not be read ({problem})"
    if not firing:
        return "Alerts: none firing"
    named = "; ".join(f"{a.project}: {a.title}" for a in firing[:shown])
    more = f"; and {len(firing) - shown} more" if len(firing) > shown else ""
    return f"Alerts: {len(firing)} firing: {named}{more}"


class ClusterWatch(QObject):
    """Emits `updated` after every look (health included), `said(text, is_error)` for the outcome of an
    action, and `token_created(JoinToken)`."""

    updated = Signal()
    said = Signal(str, bool)
    token_created = Signal(object)

    def __init__(self, client: Client, runner: Runner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.nodes: list[Node] = []
        self.queued = self.running = 0
        self.firing: tuple[Alert, ...] = ()
        self.alerts_problem = ""
        self.idle_soon: tuple[Workspace, ...] = ()
        self.health = Health("amber", "looking at the cluster…")
        self.looked = False  # True once a look has come back, either way
        self.timer = QTimer(self)
        self.timer.setInterval(WATCH_MS)
        self.timer.timeout.connect(self.refresh)
        self._look = Op("look at the cluster", lambda: read_cluster(self.client), self._seen, self._unseen)

    def start(self) -> None:
        self.timer.start()
        self.refresh()

    def stop(self) -> None:
        self.timer.stop()

    def refresh(self) -> None:
        """Looks again unless a look is still on its way (an unreachable coordinator makes calls slow)."""
        if not self.runner.running(self._look):
            self.runner.start(self._look)

    def _seen(self, state: ClusterState) -> None:
        self.nodes, self.queued, self.running = state.nodes, state.queued, state.running
        self.firing, self.alerts_problem = state.firing, state.alerts_problem
        self.idle_soon = state.idle_soon
        self.health = cluster_health(state.nodes)
        self.looked = True
        self.updated.emit()

    def _unseen(self, error: Exception) -> None:
        problem = "" if isinstance(error, Unavailable) else describe(error)
        self.health = cluster_health(None, problem)
        self.looked = True
        self.updated.emit()

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def set_drain(self, name: str, drain: bool) -> None:
        """Drains (no new runs; running ones finish) or undrains a node, then looks again."""
        verb = "drain" if drain else "undrain"
        self.runner.run(
            f"{verb} {name}",
            lambda: self.client.set_drain(name, drain),
            lambda node: self._drained(node, drain),
            lambda e: self.said.emit(f"could not {verb} {name}: {describe(e)}", True),
        )

    def _drained(self, node: Node, drain: bool) -> None:
        self.said.emit(f"{node.name} drained: no new runs" if drain else f"{node.name} takes runs again", False)
        self.refresh()

    def create_join_token(self, uses: int, ttl_seconds: float) -> None:
        self.runner.run(
            "create a join token",
            lambda: self.client.create_join_token(uses, ttl_seconds),
            self._token,
            lambda e: self.said.emit(f"could not create a join token: {describe(e)}", True),
        )

    def _token(self, token: JoinToken) -> None:
        self.token_created.emit(token)
