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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kiln.agent.datasets import dataset_folder, empty_folder, readers
from kiln.agent.runtimes import WORKDIR_IN_JOB, Mount
from kiln.agent.spool import Spool
from kiln.agent.tracking import TrackingServer, prepare_sdk
from kiln.agent.workspace import BlobCache
from kiln.client import Client
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


CA_FILE = "kiln-ca.pem"  # in the SDK folder


class RunEnvironment:
    def __init__(self, data: Path, spool: Spool, run_id: str, attempt: int, ca_pem: bytes = b"") -> None:
        self.data, self.spool, self.run_id, self.attempt = data, spool, run_id, attempt
        self.ca_pem = ca_pem  # the installation's CA, for clients in the run that call the coordinator (MLflow)
        self.sockets = socket_dir(run_id, attempt)
        self.datasets: dict[str, Path] = {}
        self.server: TrackingServer | None = None
        self._stored: Callable[[TrackBatch], None] | None = None

    def prepare_datasets(self, client: Client, project: str, mounts: Iterable[DatasetMount]) -> None:
        """Each dataset version is materialised once per node, shared read-only by the runs using it, and
        checked before each reuse (agent/datasets.py)."""
        in_use = readers(self.spool, self.run_id, self.attempt)
        for m in mounts:
            self.datasets[m.name] = dataset_folder(
                client,
                BlobCache(self.data / "cache"),
                self.data / "datasets",
                project,
                m.snapshot,
                label=f"{m.name}:{m.version}",
                in_use=in_use,
            )

    def start_tracking(
        self,
        answer: Callable[[dict[str, Any]], dict[str, str]] | None = None,
        stored: Callable[[TrackBatch], None] | None = None,
    ) -> None:
        """Serves the run's SDK: `answer` takes its questions (kiln/track/__init__.py: "Questions"), and
        `stored` is told of each batch once it is durable (the job keeps the paths the run logged)."""
        self.sockets.mkdir(parents=True, exist_ok=True, mode=0o700)
        delivered = self.spool.track_delivered(self.run_id, self.attempt)
        self._stored = stored
        self.server = TrackingServer(
            self.sockets / "sock", self._store_batch, delivered=delivered, on_question=answer
        ).start()

    def _store_batch(self, batch: dict[str, Any]) -> None:
        """Durable before it is acknowledged: into the outbox, with the dedup mark, in one transaction."""
        report = track_batch(self.run_id, self.attempt, batch)
        self.spool.report_tracking(report, batch["pid"], batch.get("proc", ""))
        if self._stored is not None:
            self._stored(report)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        shutil.rmtree(self.sockets, ignore_errors=True)

    def mounts_and_paths(self) -> tuple[tuple[Mount, ...], dict[str, str]]:
        """What to mount where, and the environment variables that name paths, as a container sees them."""
        extra = {CA_FILE: self.ca_pem} if self.ca_pem else {}
        sdk = prepare_sdk(self.data / "sdk", extra)
        mounts = [Mount(sdk, SDK_TARGET), Mount(self.sockets, TRACK_TARGET, read_only=False)]
        mounts += [Mount(path, f"{DATASETS_TARGET}/{name}") for name, path in self.datasets.items()]
        if not self.datasets:  # KILN_DATASETS is a folder all the same, an empty one
            mounts.append(Mount(empty_folder(self.data / "datasets"), DATASETS_TARGET))
        paths = {
            "PYTHONPATH": SDK_TARGET,
            "KILN_TRACK_SOCKET": f"{TRACK_TARGET}/sock",
            "KILN_WORKDIR": WORKDIR_IN_JOB,
            "KILN_DATASETS": DATASETS_TARGET,
        }
        if self.ca_pem:  # MLflow's client reads it to trust the coordinator's MLflow API
            paths["MLFLOW_TRACKING_SERVER_CERT_PATH"] = f"{SDK_TARGET}/{CA_FILE}"
        paths.update({f"KILN_DATASET_{_env_name(name)}": f"{DATASETS_TARGET}/{name}" for name in self.datasets})
        return tuple(mounts), paths


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()
