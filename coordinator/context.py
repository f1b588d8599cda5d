"""The coordinator's state as one value passed to every domain function: store, blobs, TLS and settings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from kiln.coordinator.blobs import BlobStore
from kiln.coordinator.liveness import Liveness
from kiln.coordinator.pki import ServerTls, ensure_pki
from kiln.coordinator.store import SqliteStore
from kiln.coordinator.store.logfiles import check_cap
from kiln.coordinator.throttle import SignInThrottle
from kiln.core import clock, defaults
from kiln.core.errors import InvalidArgument
from kiln.core.workspaces import IDLE_LIMIT_GPU_S, IDLE_LIMIT_S


@dataclass(frozen=True)
class CoordinatorConfig:
    data_dir: Path
    listen: str = defaults.LISTEN
    max_upload_bytes: int = defaults.MAX_UPLOAD_BYTES
    # Sets the bootstrap admin's password on first start instead of generating and printing one.
    admin_password: str | None = None
    # Where agents connect with their node certificates (mutual TLS). "" : the listen host, on the listen
    # port + 1 (or a free port when the listen port is 0).
    agent_listen: str = ""
    heartbeat_interval_s: float = 5.0
    heartbeat_timeout_s: float = 15.0  # silent this long: unreachable (runs keep their state)
    lost_grace_s: float = 120.0  # silent this long: offline, its runs are lost and retried
    cancel_grace_s: float = 10.0  # between SIGTERM and SIGKILL when a run is cancelled
    metrics_listen: str = ""  # HOST:PORT of the Prometheus /metrics endpoint ("": none)  [ops]
    # A connection that has not finished its TLS handshake by then is closed, so connections that never
    # speak cannot hold the server's file descriptors (coordinator/server.py).
    handshake_timeout_s: float = 10.0
    # No API or session token lives longer than this (seconds; kiln coordinator --max-token-lifetime).
    max_token_lifetime_s: float = defaults.MAX_TOKEN_TTL_S
    # The most of one run's output kept (kiln coordinator --log-cap-bytes); beyond it the middle is dropped.
    log_cap_bytes: int = defaults.LOG_CAP_BYTES
    # HOST:PORT where the HTTP gateway serves /endpoints/NAME/invocations over TLS ("": no gateway).
    gateway_listen: str = ""
    # How long a workspace may idle before it is saved and stopped (kiln coordinator --workspace-idle,
    # --workspace-idle-gpu): one holding GPUs, and one without.
    workspace_idle_s: float = IDLE_LIMIT_S
    workspace_idle_gpu_s: float = IDLE_LIMIT_GPU_S
    # HOST:PORT where the MLflow-compatible API is served over TLS ("": none); see coordinator/mlflow/.
    mlflow_listen: str = ""


@dataclass
class Coordinator:
    config: CoordinatorConfig
    store: SqliteStore
    blobs: BlobStore
    tls: ServerTls
    liveness: Liveness
    # Set only on the first start, when the bootstrap admin was created with a generated password.
    bootstrap_password: str | None = field(default=None, repr=False)
    # Failed sign-ins, in memory: a restart forgets them (coordinator/throttle.py says why that is fine).
    signins: SignInThrottle = field(default_factory=SignInThrottle)
    # https://HOST:PORT of the gateway serving /endpoints/NAME/invocations ("" while none runs).
    gateway_url: str = ""
    # https://HOST:PORT of the MLflow-compatible API; a project's tracking URI is it + /projects/NAME.
    mlflow_url: str = ""
    # run id -> when a tunnel into it last carried bytes (in memory: the idle watch counts it as activity)
    tunnel_traffic: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        self.store.close()


def open_coordinator(config: CoordinatorConfig) -> Coordinator:
    """Opens the data folder, creating database, blob store, CA and bootstrap admin on first start."""
    from kiln.coordinator.accounts import ensure_bootstrap_admin
    from kiln.coordinator.audit import seal_audit_log
    from kiln.coordinator.identity import dummy_hash

    if not 0 < config.max_token_lifetime_s < math.inf:  # NaN fails this too
        raise InvalidArgument("the maximum token lifetime must be a positive, finite number of seconds")
    check_cap(config.log_cap_bytes)
    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    tls = ensure_pki(data / "pki")
    store = SqliteStore(data / "kiln.db")
    store.set_log_cap(config.log_cap_bytes)
    seal_audit_log(store, data / "pki")  # before any record is written: every record is signed
    liveness = Liveness(config.heartbeat_timeout_s, config.lost_grace_s, started_at=clock.now())
    coordinator = Coordinator(config, store, BlobStore(data / "blobs"), tls, liveness)
    coordinator.bootstrap_password = ensure_bootstrap_admin(store, config.admin_password)
    dummy_hash()  # made now, so the first sign-in with an unknown name costs no more than any other
    return coordinator
