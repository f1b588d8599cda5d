"""Domain records passed between the store, the servicers and the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only, so a command that needs no run (`kiln push`) never loads their code
    from kiln.core.permissions import Role
    from kiln.core.runs import Run


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool = False
    disabled: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    name: str
    created_at: float
    expires_at: float
    revoked_at: float = 0.0
    last_used_at: float = 0.0


@dataclass(frozen=True)
class Project:
    name: str
    description: str = ""
    created_by: str = ""
    created_at: float = 0.0
    archived_at: float = 0.0
    members: dict[str, Role] = field(default_factory=dict)
    my_role: str = ""
    validators: tuple[str, ...] = ()  # members who may review requests to move a model's production alias


@dataclass(frozen=True)
class Snapshot:
    id: str
    project: str
    parent: str
    message: str
    author: str
    created_at: float
    files: int
    bytes: int


@dataclass(frozen=True)
class Inventory:
    """What a node has (and, in heartbeats, how much of it is in use)."""

    cpus: float = 0.0
    memory_bytes: int = 0
    disk_bytes: int = 0
    gpus: tuple[GpuInfo, ...] = ()
    cpu_percent: float = 0.0
    memory_used_bytes: int = 0
    disk_free_bytes: int = 0
    driver_version: str = ""
    cuda_version: str = ""
    environments: tuple[str, ...] = ()  # digests of the environments the node keeps built


@dataclass(frozen=True)
class GpuInfo:
    uuid: str
    model: str
    memory_bytes: int = 0
    utilization: float = 0.0
    memory_used_bytes: float = 0.0
    temperature_c: float = 0.0


@dataclass(frozen=True)
class Node:
    name: str
    state: str  # ready, draining, unreachable, offline
    labels: dict[str, str] = field(default_factory=dict)
    runtimes: dict[str, str] = field(default_factory=dict)
    inventory: Inventory = field(default_factory=Inventory)
    drained: bool = False
    last_seen: float = 0.0
    created_at: float = 0.0
    version: str = ""
    runs: tuple[str, ...] = ()
    quarantined: int = 0  # messages from this node set aside because they could not be applied
    # Connections refused because another with this node's identity was live: how many, the last's time
    # and address (a copied identity, or a second agent started from the same data folder).
    duplicates: int = 0
    duplicate_at: float = 0.0
    duplicate_from: str = ""


@dataclass(frozen=True)
class NodeCertificate:
    """What enrolment gives a node: its name, the certificate the coordinator signed, the CA to pin, and
    the port agents connect to."""

    name: str
    certificate_pem: bytes
    ca_pem: bytes
    agent_port: int


@dataclass(frozen=True)
class ServerInfo:
    """What a coordinator says about itself before anyone signs in."""

    version: str
    ca_fingerprint: str
    agent_port: int
    mlflow_port: int = 0  # the MLflow-compatible API's port (0: not served)


@dataclass(frozen=True)
class JoinToken:
    id: str
    uses: int
    expires_at: float
    token: str = ""  # the secret form, only when just created


@dataclass(frozen=True)
class DatasetVersion:
    project: str
    name: str
    version: int
    snapshot: str
    created_by: str
    created_at: float
    files: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class ModelVersion:
    project: str
    name: str
    version: int
    run_id: str
    path: str
    snapshot: str
    created_by: str
    created_at: float
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Model:
    """A registered model: its versions, where its aliases point, and what moving production takes."""

    project: str
    name: str
    versions: tuple[ModelVersion, ...] = ()
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version
    required_approvals: int = 0  # validator approvals the project requires to move production


@dataclass(frozen=True)
class AliasMove:
    """One move of a model's alias, as the registry recorded it."""

    alias: str
    version: int
    time: float
    actor: str
    request_id: str = ""  # the approved request behind a production move


@dataclass(frozen=True)
class AliasRequest:
    id: str
    project: str
    name: str
    version: int
    alias: str
    requester: str
    state: str  # open, approved, rejected, applied
    created_at: float
    decided_at: float
    required_approvals: int
    message: str = ""
    reviews: tuple[tuple[str, bool, str, float], ...] = ()  # reviewer, approve, message, time


@dataclass(frozen=True)
class Comment:
    id: str
    entity: str
    project: str
    author: str
    text: str
    time: float


@dataclass(frozen=True)
class RunRecord:
    run: Run
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[tuple[str, float, int, float, float, int]]
    artifacts: list[str]
    models: list[tuple[str, str, str]]
    inputs: list[str]
    environment: dict[str, str]


COLUMN_NAMESPACES = ("params", "metrics", "tags")


@dataclass(frozen=True)
class RunValues:
    """The params, final metrics and tags of one run that a listing asked for as columns
    (`kiln runs --columns params.lr,metrics.acc`): only those keys, so a long listing stays small."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # the last value logged
    tags: dict[str, str] = field(default_factory=dict)

    def get(self, column: str) -> str | float | None:
        """The value of `params.NAME`, `metrics.NAME` or `tags.NAME`; None where the run has none."""
        namespace, _, name = column.partition(".")
        found: dict[str, str] | dict[str, float] = (
            self.params if namespace == "params" else self.metrics if namespace == "metrics" else self.tags
        )
        return found.get(name) if namespace in COLUMN_NAMESPACES else None


@dataclass(frozen=True)
class RunPage:
    """One page of a search (`Client.search_page`): the runs with their column values, the token of the
    next page ("" after the last), and how many runs match in all when the search asked to count."""

    rows: list[tuple[Run, RunValues]]
    next_token: str = ""
    total: int | None = None


@dataclass(frozen=True)
class RunKeys:
    """The params, metrics and tags keys a project's runs logged (each sorted); `truncated`: more exist
    than the coordinator lists."""

    params: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    truncated: bool = False

    def columns(self) -> list[str]:
        """As search columns: params.NAME, then metrics.NAME, then tags.NAME."""
        return [f"{kind}.{key}" for kind in COLUMN_NAMESPACES for key in getattr(self, kind)]


@dataclass(frozen=True)
class MetricSeries:
    """One metric of a run: how many points it has, and at most the requested number of them (all of
    its history, or only the points after `after_step` when the read asked for that)."""

    key: str
    total_points: int
    points: tuple[tuple[int, float, float], ...]  # step, value, timestamp
    after_step: int | None = None  # None: the whole history, downsampled
    lowest: tuple[int, float] | None = None  # (earliest step, value) of the lowest value, in a whole read
    highest: tuple[int, float] | None = None
