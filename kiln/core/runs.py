"""Runs: what was asked for, the states a run moves through, and which moves are allowed."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field

from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.units import format_bytes


class RunState(enum.StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    PREPARING = "preparing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"
    PREEMPTED = "preempted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.LOST, RunState.PREEMPTED})
ACTIVE = frozenset({RunState.ASSIGNED, RunState.PREPARING, RunState.RUNNING})
RUN_ID_BYTES = 6  # run ids are r- and 12 hex digits


def new_run_id() -> str:
    return f"r-{secrets.token_hex(RUN_ID_BYTES)}"


_ENDINGS = {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.LOST, RunState.PREEMPTED}
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.ASSIGNED, RunState.CANCELLED}),
    RunState.ASSIGNED: frozenset({RunState.PREPARING, RunState.RUNNING, RunState.QUEUED, *_ENDINGS}),
    RunState.PREPARING: frozenset({RunState.RUNNING, RunState.QUEUED, *_ENDINGS}),
    RunState.RUNNING: frozenset({RunState.QUEUED, *_ENDINGS}),
    # A lost or preempted run may be queued again for another attempt, by its retry policy.
    RunState.LOST: frozenset({RunState.QUEUED}),
    RunState.PREEMPTED: frozenset({RunState.QUEUED}),
    RunState.SUCCEEDED: frozenset(),
    RunState.FAILED: frozenset(),
    RunState.CANCELLED: frozenset(),
}


def check_transition(old: RunState, new: RunState) -> None:
    if new not in TRANSITIONS[old]:
        raise FailedPrecondition(f"a run cannot go from {old} to {new}")


class Priority(enum.IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2

    @classmethod
    def parse(cls, text: str) -> Priority:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidArgument(f"unknown priority {text!r}; use low, normal or high") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    memory_bytes: int = 0  # 0: no reservation and no limit
    gpus: int = 0
    gpu_model: str = ""  # "": any model; else a case-insensitive substring of the GPU's name


@dataclass(frozen=True)
class RunSpec:
    project: str
    command: tuple[str, ...]
    snapshot: str = ""
    image: str = ""
    runtime: str = ""  # "": any runtime the node has (docker preferred when an image is given)
    resources: Resources = field(default_factory=Resources)
    priority: Priority = Priority.NORMAL
    node_labels: dict[str, str] = field(default_factory=dict)  # the node must carry all of them
    retries: int = 0  # how many more attempts after a run is lost
    env: dict[str, str] = field(default_factory=dict)
    network: str = "none"
    datasets: tuple[str, ...] = ()  # NAME or NAME:VERSION; resolved to exact versions at submission
    parent_run: str = ""
    rerun_of: str = ""  # the run this one repeats exactly; set only by the coordinator (kiln rerun)
    environment: str = ""  # NAME or NAME:VERSION; pinned to NAME:VERSION at submission (kiln.core.environments)
    builds: str = ""  # NAME:VERSION of the environment this run builds; set only by the coordinator


@dataclass(frozen=True)
class RunEvent:
    time: float
    state: RunState
    cause: str
    node: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class Run:
    id: str
    spec: RunSpec
    user: str
    state: RunState
    created_at: float
    node: str = ""
    runtime: str = ""  # the runtime the scheduler chose on that node
    attempt: int = 0
    gpu_uuids: tuple[str, ...] = ()
    exit_code: int | None = None
    reason: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    output_snapshot: str = ""
    cancel_requested: bool = False
    events: tuple[RunEvent, ...] = ()
    # bytes of its output dropped from the middle, over the coordinator's per-run log cap (log_cap_bytes)
    log_dropped_bytes: int = 0
    log_cap_bytes: int = 0


@dataclass(frozen=True)
class LogChunk:
    """A piece of a run's output: numbered per attempt by the agent, so resent chunks are recognised."""

    attempt: int
    seq: int
    stream: str  # stdout or stderr
    data: bytes
    time: float
    offset: int = 0  # read from the coordinator: the bytes of the run's output before this chunk


def dropped_note(dropped: int, cap: int = 0) -> str:
    """The line a log reader shows where `dropped` bytes of a run's output were dropped over the
    coordinator's per-run log cap (`cap`, as the run's record gives it; 0: not known)."""
    why = f"over the run's {format_bytes(cap)} log cap" if cap else "over the run's log cap"
    return f"… {format_bytes(dropped)} of output dropped here ({why}) …\n"


def dropped_text(run: Run) -> str:
    """What a run's record says of its output dropped over the log cap, in one line ("-": none)."""
    if not run.log_dropped_bytes:
        return "-"
    cap = f" (over the {format_bytes(run.log_cap_bytes)} log cap)" if run.log_cap_bytes else ""
    return f"{format_bytes(run.log_dropped_bytes)} from the middle of its output{cap}"


def resources_text(run: Run) -> str:
    """What a run asked for, in one line: "2 cpu, memory 4.0 GiB, 1 gpu (a100)"."""
    res = run.spec.resources
    parts = [f"{res.cpus:g} cpu", f"memory {format_bytes(res.memory_bytes) if res.memory_bytes else 'any'}"]
    parts.append(f"{res.gpus} gpu" + (f" ({res.gpu_model})" if res.gpu_model else "") if res.gpus else "no gpu")
    return ", ".join(parts)


def pairs_text(values: dict[str, str]) -> str:
    """Labels or variables in one line, sorted: "a=1 b=2" ("-" for none)."""
    return " ".join(f"{k}={v}" for k, v in sorted(values.items())) or "-"
