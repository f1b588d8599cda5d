"""The agent link as plain values: every message an agent and the coordinator exchange on their one
long-lived stream, in both directions.

An agent sends its `Hello` first, then `Heartbeat`s and, numbered by its spool (`Sequenced`), what its runs
report: `RunUpdate`, `LogBatch`, `TrackBatch`. The coordinator answers with a `Welcome`, then `Assignment`,
`Cancel`, `Drain` and cumulative `Ack`s (everything up to `seq` is stored; the agent forgets it).

These types are the whole contract for the code on either side: only `kiln.serde.link` maps them to the
wire, and only one module per side (`kiln.coordinator.rpc.link`, `kiln.agent.link`) touches gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.environments import EnvironmentRef
from kiln.core.errors import InvalidArgument
from kiln.core.models import Inventory
from kiln.core.runs import LogChunk, RunSpec, RunState


class BadMessage(InvalidArgument):
    """A link message that does not hold together (an unknown state, a missing body...); the message
    says which field and why, so the one who reads the quarantine knows what the agent sent."""


# -- agent -> coordinator -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldRun:
    """A job the agent still holds, told on every (re)connection so the coordinator can reconcile."""

    run_id: str
    attempt: int
    state: RunState


@dataclass(frozen=True)
class Hello:
    name: str  # the name the agent believes it has; must match its certificate
    version: str
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> what it will use
    inventory: Inventory = field(default_factory=Inventory)
    labels: dict[str, str] = field(default_factory=dict)
    runs: tuple[HeldRun, ...] = ()
    # A random id the agent process makes when it starts ("" from an older agent): a reconnection that
    # presents the id of the stream it replaces is that same agent coming back, not a copy of its identity.
    instance: str = ""


# A node identity already connected is refused with these words (the agent recognises them and waits
# for the other stream to end, rather than giving up as it does when its certificate is refused).
ALREADY_CONNECTED = "is already connected from"


def already_connected(node: str, address: str) -> str:
    """Why a second connection with the identity of a connected node is refused, and what to do."""
    return (
        f"node {node} {ALREADY_CONNECTED} {address or 'another address'}; "
        f"if this host was re-imaged, an admin runs kiln node reset {node}"
    )


@dataclass(frozen=True)
class Heartbeat:
    inventory: Inventory


@dataclass(frozen=True)
class RunUpdate:
    run_id: str
    attempt: int
    state: RunState
    time: float
    exit_code: int | None = None
    reason: str = ""
    output_snapshot: str = ""
    # What the run ran in, as the agent saw it (image id, runtime, driver, ...).
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LogBatch:
    run_id: str
    chunks: tuple[LogChunk, ...]


@dataclass(frozen=True)
class TrackBatch:
    """One batch of what a run logged through kiln.track, as the agent forwards it. (pid, seq) identify
    it per sending process, so a batch sent twice is applied once."""

    run_id: str
    attempt: int
    pid: int
    seq: int
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: tuple[tuple[str, int, float, float], ...] = ()  # key, step, value, timestamp
    artifacts: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    models: tuple[tuple[str, str, str], ...] = ()  # path, name, flavor
    environment: dict[str, str] = field(default_factory=dict)


AgentMessage = Hello | Heartbeat | RunUpdate | LogBatch | TrackBatch


@dataclass(frozen=True)
class Sequenced:
    """A report numbered by the agent's spool: kept there until the coordinator acknowledges `seq`."""

    seq: int
    message: RunUpdate | LogBatch | TrackBatch


# -- coordinator -> agent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Welcome:
    node: str
    heartbeat_interval_s: float
    drained: bool = False


@dataclass(frozen=True)
class DatasetMount:
    """A dataset version the run reads, resolved to the snapshot that holds it."""

    name: str
    version: int
    snapshot: str


@dataclass(frozen=True)
class Assignment:
    """What a run looks like to the node that runs it."""

    run_id: str
    attempt: int
    spec: RunSpec
    runtime: str
    user: str = ""
    gpu_uuids: tuple[str, ...] = ()
    datasets: tuple[DatasetMount, ...] = ()
    environment: EnvironmentRef | None = None  # the environment it uses or builds


@dataclass(frozen=True)
class Cancel:
    run_id: str
    attempt: int
    grace_s: float  # between SIGTERM and SIGKILL
    reason: str = ""


@dataclass(frozen=True)
class Drain:
    drain: bool


@dataclass(frozen=True)
class Ack:
    seq: int  # every report up to and including this one is stored


@dataclass(frozen=True)
class OpenTunnel:
    """Open a TCP connection to `port` of run `run_id` on this node and tunnel it (kiln run port)."""

    tunnel_id: str
    run_id: str
    port: int


@dataclass(frozen=True)
class SaveFolder:
    """Snapshot a workspace run's folder into its project; told back as tag kiln.workspace.saved.REQUEST."""

    run_id: str
    attempt: int
    request_id: str
    message: str = ""


CoordinatorMessage = Welcome | Assignment | Cancel | Drain | Ack | OpenTunnel | SaveFolder


@dataclass(frozen=True)
class Quarantined:
    """An agent message the coordinator could not apply after a few tries: acknowledged, so the link
    goes on, and kept with the error for an operator to read."""

    node: str
    seq: int
    kind: str
    message: str  # the message as text, cut to a bounded size
    error: str
    failures: int
    time: float
