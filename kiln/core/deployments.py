"""Deployments: a registered model version served behind one stable URL, its replicas, its traffic, and the
ledger of every prediction it made.

A deployment follows a model version or an alias (`production`); its traffic is a list of versions with
weights (percent, summing to 100), at most one shadow (mirrored, its answers recorded but never
returned) and an optional sticky header (a request carrying it always lands on the same version while the
weights stand). Each version in the traffic has `replicas` long-running runs; the gateway reads one route
table (RouteTable) and records each request as a PredictionRecord."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

# Deployment states.
ACTIVE = "active"
STOPPED = "stopped"

# Where replicas tell their address (a tag of the replica's run, set by kiln.serve once the model loaded).
ADDRESS_TAG = "kiln.serve.address"

# Response headers every answer carries.
PREDICTION_ID_HEADER = "X-Kiln-Prediction-Id"
MODEL_VERSION_HEADER = "X-Kiln-Model-Version"

MAX_REPLICAS = 64
MAX_TRAFFIC_VERSIONS = 8
MAX_BODY_BYTES = 8 * 1024 * 1024  # the largest request body the gateway takes
MAX_CAPTURE_BYTES = 64 * 1024  # how much of a request and of its answer the ledger keeps (the rest is cut)
MAX_LABELS = 10_000  # ground-truth labels in one call
MAX_LABEL_BYTES = 1024


@dataclass(frozen=True)
class Split:
    """One version's share of an endpoint's traffic."""

    version: int
    weight: int  # percent of requests answered by this version (0 for a shadow)
    shadow: bool = False


@dataclass(frozen=True)
class Replica:
    run_id: str
    version: int
    state: str  # the run's state
    node: str = ""
    address: str = ""  # host:port once the replica serves ("" before)
    ready: bool = False
    started_at: float = 0.0


@dataclass(frozen=True)
class DeploymentEvent:
    time: float
    state: str
    cause: str
    actor: str = ""


@dataclass(frozen=True)
class Deployment:
    project: str
    name: str
    model: str
    alias: str  # the alias followed ("" when pinned to versions)
    replicas: int  # per version in the traffic
    state: str
    traffic: tuple[Split, ...]  # what is asked for
    serving: tuple[Split, ...]  # what the gateway routes now (the asked traffic once its replicas are ready)
    cpus: float = 0.0
    memory_bytes: int = 0
    gpus: int = 0
    environment: str = ""  # NAME:VERSION when given; else each version runs in its training run's environment
    sticky_header: str = ""
    sample_rate: float = 1.0  # share of requests the ledger keeps
    created_by: str = ""
    created_at: float = 0.0
    replica_list: tuple[Replica, ...] = ()
    events: tuple[DeploymentEvent, ...] = ()
    url: str = ""


@dataclass(frozen=True)
class ReplicaRoute:
    run_id: str
    node: str
    address: str


@dataclass(frozen=True)
class VersionRoute:
    version: int
    weight: int
    shadow: bool
    replicas: tuple[ReplicaRoute, ...]


@dataclass(frozen=True)
class EndpointRoute:
    project: str
    name: str
    model: str
    versions: tuple[VersionRoute, ...]
    sticky_header: str = ""
    sample_rate: float = 1.0


@dataclass(frozen=True)
class RouteTable:
    """What every gateway routes by; `generation` grows with each change, so a gateway asks for it again
    only when it moved."""

    generation: int
    endpoints: dict[str, EndpointRoute] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictionRecord:
    """One request as the gateway saw it (or one shadow answer), as the ledger keeps it."""

    id: str
    endpoint: str
    version: int
    time: float  # when the request arrived, seconds since the epoch
    latency_ms: float
    status: int  # the HTTP status answered
    replica: str = ""  # the replica run that answered ("" when none could)
    node: str = ""
    shadow: bool = False
    caller: str = ""  # who called (user or endpoint token name)
    content_type: str = ""
    request: bytes = b""  # at most MAX_CAPTURE_BYTES of it
    response: bytes = b""
    truncated: bool = False
    error: str = ""


@dataclass(frozen=True)
class Prediction:
    """A ledger row with what it traces to."""

    record: PredictionRecord
    project: str
    model: str
    model_run: str = ""
    snapshot: str = ""
    datasets: tuple[str, ...] = ()
    environment: str = ""
    label: str = ""  # ground truth, joined by prediction id ("" before feedback)
    labelled_at: float = 0.0


@dataclass(frozen=True)
class VersionCard:
    version: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rate_per_s: float  # over the last minute
    labelled: int = 0
    accuracy: float | None = None  # share of labelled predictions equal to their label
    mae: float | None = None  # for numeric predictions


def splits_text(splits: Iterable[Split]) -> str:
    """Traffic as people read it: "v3 90%, v4 10%, v5 shadow" ("-" for none)."""
    return ", ".join(f"v{s.version} shadow" if s.shadow else f"v{s.version} {s.weight}%" for s in splits) or "-"


def serving_python(command: tuple[str, ...]) -> str:
    """The interpreter a model's replica or scoring run starts with: the one its training run named (a
    path or `python3.11`), else `python3` (the environment's)."""
    first = command[0] if command else ""
    return first if first.rsplit("/", 1)[-1].startswith("python") else "python3"


def sticky_bucket(value: str) -> int:
    """0..99, the same for the same header value everywhere (every gateway, every restart)."""
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "big") % 100


def pick_version(splits: tuple[Split, ...] | tuple[VersionRoute, ...], bucket: int) -> int:
    """The version whose cumulative weight range holds `bucket` (0..99), shadows aside."""
    total = 0
    live = [s for s in splits if not s.shadow and s.weight > 0]
    for s in live:
        total += s.weight
        if bucket < total:
            return s.version
    return live[-1].version if live else 0


def check_traffic(splits: tuple[Split, ...]) -> str | None:
    """Why these splits cannot be an endpoint's traffic, or None."""
    if not splits:
        return "traffic needs at least one version"
    if len(splits) > MAX_TRAFFIC_VERSIONS:
        return f"traffic names {len(splits)} versions; at most {MAX_TRAFFIC_VERSIONS}"
    versions = [s.version for s in splits]
    if len(set(versions)) != len(versions):
        return "traffic names a version twice"
    if sum(1 for s in splits if s.shadow) > 1:
        return "at most one shadow version"
    for s in splits:
        if s.shadow and s.weight:
            return f"shadow version {s.version} takes no weight (its answers are never returned)"
        if not 0 <= s.weight <= 100:
            return f"weight {s.weight} of version {s.version} is not between 0 and 100"
    live = sum(s.weight for s in splits if not s.shadow)
    if live != 100:
        return f"weights add up to {live}; they must add up to 100"
    return None
