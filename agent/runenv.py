"""What a job sees besides its folder: the tracking SDK on its PYTHONPATH, a socket to log through, and
its datasets, read-only. One list of mounts and one set of paths (as a container would see them) for
every runtime; each runtime translates them to what its jobs can reach (Docker binds the mounts, a plain
process is given the real folders)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiln.agent.runtimes import WORKDIR_IN_JOB, Mount
from kiln.agent.spool import Spool
from kiln.agent.tracking import TrackingServer, prepare_sdk
from kiln.agent.workspace import BlobCache, materialize
from kiln.client import Client
from kiln.core.atomic import building
from kiln.core.link import DatasetMount, TrackBatch

log = logging.getLogger("kiln.agent.runenv")

SDK_TARGET = "/kiln/sdk"
TRACK_TARGET = "/kiln/track"
DATASETS_TARGET = "/datasets"


def socket_dir(run_id: str, attempt: int) -> Path:
    """A short, stable folder for the job's socket (Unix socket paths hold ~107 bytes)."""
    return Path(tempfile.gettempdir()) / f"kiln-{os.getuid()}" / f"{run_id}.{attempt}"


def sender_id(pid: int, proc: str) -> int:
    """One 63-bit number for a sending process (pid and its per-process nonce), for the coordinator's dedup."""
    return int.from_bytes(hashlib.sha256(f"{pid}:{proc}".encode()).digest()[:8], "big") >> 1


def track_batch(run_id: str, attempt: int, batch: dict[str, Any]) -> TrackBatch:
    """The SDK's JSON batch (format in kiln/track/__init__.py; timestamps in milliseconds) as a report."""
    env = dict(batch.get("environment") or {})
    return TrackBatch(
        run_id=run_id,
        attempt=attempt,
        pid=sender_id(batch["pid"], batch.get("proc", "")),
        seq=batch["seq"],
        params=dict(batch.get("params", {})),
        tags=dict(batch.get("tags", {})),
        metrics=tuple((key, int(step), float(value), ts / 1000.0) for key, value, step, ts in batch.get("metrics", ())),
        artifacts=tuple(batch.get("artifacts", ())),
        datasets=tuple(batch.get("datasets", ())),
        models=tuple((m["path"], m.get("name") or "", m.get("flavor") or "") for m in batch.get("models", ())),
        environment={k: str(v) for k, v in env.items()},
    )


class RunEnvironment:
    def __init__(self, data: Path, spool: Spool, run_id: str, attempt: int) -> None:
        self.data, self.spool, self.run_id, self.attempt = data, spool, run_id, attempt
        self.sockets = socket_dir(run_id, attempt)
        self.datasets: dict[str, Path] = {}
        self.server: TrackingServer | None = None

    def prepare_datasets(self, client: Client, project: str, mounts: Iterable[DatasetMount]) -> None:
        """Each dataset version is materialised once per node and shared read-only by the runs using it."""
        for m in mounts:
            self.datasets[m.name] = dataset_folder(
                client, BlobCache(self.data / "cache"), self.data / "datasets", project, m.snapshot
            )

    def start_tracking(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True, mode=0o700)
        delivered = self.spool.track_delivered(self.run_id, self.attempt)
        self.server = TrackingServer(self.sockets / "sock", self._store_batch, delivered=delivered).start()

    def _store_batch(self, batch: dict[str, Any]) -> None:
        """Durable before it is acknowledged: into the outbox, with the dedup mark, in one transaction."""
        report = track_batch(self.run_id, self.attempt, batch)
        self.spool.report_tracking(report, batch["pid"], batch.get("proc", ""))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        shutil.rmtree(self.sockets, ignore_errors=True)

    def mounts_and_paths(self) -> tuple[tuple[Mount, ...], dict[str, str]]:
        """What to mount where, and the environment variables that name paths, as a container sees them."""
        mounts = [Mount(prepare_sdk(self.data / "sdk"), SDK_TARGET), Mount(self.sockets, TRACK_TARGET, read_only=False)]
        mounts += [Mount(path, f"{DATASETS_TARGET}/{name}") for name, path in self.datasets.items()]
        paths = {
            "PYTHONPATH": SDK_TARGET,
            "KILN_TRACK_SOCKET": f"{TRACK_TARGET}/sock",
            "KILN_WORKDIR": WORKDIR_IN_JOB,
            "KILN_DATASETS": DATASETS_TARGET,
        }
        paths.update({f"KILN_DATASET_{_env_name(name)}": f"{DATASETS_TARGET}/{name}" for name in self.datasets})
        return tuple(mounts), paths


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def dataset_folder(client: Client, cache: BlobCache, root: Path, project: str, snapshot: str) -> Path:
    """The snapshot materialised under `root`, once (built aside and renamed, so never seen half-made; when
    another job built it first, the same content, theirs is used)."""
    final = root / snapshot
    if final.is_dir():
        return final
    # materialize's stat cache is of no use for a read-only dataset: it goes in a scratch folder
    with building(final, exist_ok=True) as tree, tempfile.TemporaryDirectory(prefix=".statcache-", dir=root) as sc:
        materialize(client, cache, project, snapshot, tree, Path(sc))
        _read_only(tree)
    return final


def _read_only(tree: Path) -> None:
    """Datasets are shared by runs: take write permission away (Docker also mounts them read-only)."""
    for path in [*tree.rglob("*"), tree]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)
