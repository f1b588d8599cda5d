"""The coordinator's state as one value passed to every domain function: store, blobs, TLS and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiln.coordinator.blobs import BlobStore
from kiln.coordinator.liveness import Liveness
from kiln.coordinator.pki import ServerTls, ensure_pki
from kiln.coordinator.store import SqliteStore
from kiln.core import clock, defaults


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


@dataclass
class Coordinator:
    config: CoordinatorConfig
    store: SqliteStore
    blobs: BlobStore
    tls: ServerTls
    liveness: Liveness
    # Set only on the first start, when the bootstrap admin was created with a generated password.
    bootstrap_password: str | None = field(default=None, repr=False)

    def close(self) -> None:
        self.store.close()


def open_coordinator(config: CoordinatorConfig) -> Coordinator:
    """Opens the data folder, creating database, blob store, CA and bootstrap admin on first start."""
    from kiln.coordinator.accounts import ensure_bootstrap_admin

    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    tls = ensure_pki(data / "pki")
    store = SqliteStore(data / "kiln.db")
    liveness = Liveness(config.heartbeat_timeout_s, config.lost_grace_s, started_at=clock.now())
    coordinator = Coordinator(config, store, BlobStore(data / "blobs"), tls, liveness)
    coordinator.bootstrap_password = ensure_bootstrap_admin(store, config.admin_password)
    return coordinator
