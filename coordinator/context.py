"""The coordinator's state as one value passed to every domain function: store, blobs, TLS and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiln.coordinator.blobs import BlobStore
from kiln.coordinator.pki import ServerTls, ensure_pki
from kiln.coordinator.store import SqliteStore

from kiln.core import defaults


@dataclass(frozen=True)
class CoordinatorConfig:
    data_dir: Path
    listen: str = defaults.LISTEN
    max_upload_bytes: int = defaults.MAX_UPLOAD_BYTES
    # Sets the bootstrap admin's password on first start instead of generating and printing one.
    admin_password: str | None = None


@dataclass
class Coordinator:
    config: CoordinatorConfig
    store: SqliteStore
    blobs: BlobStore
    tls: ServerTls
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
    coordinator = Coordinator(config, store, BlobStore(data / "blobs"), tls)
    coordinator.bootstrap_password = ensure_bootstrap_admin(store, config.admin_password)
    return coordinator
