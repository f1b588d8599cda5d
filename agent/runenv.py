"""What a job sees besides its folder: the tracking SDK on its PYTHONPATH, a socket to log through, and
its datasets mounted read-only — the same for Docker (mounts) and process (paths in the environment)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kiln.agent.runtimes import Mount
from kiln.agent.spool import Spool
from kiln.agent.tracking import TrackingServer, prepare_sdk
from kiln.agent.workspace import BlobCache, materialize
from kiln.client import Client
from kiln.proto.v1 import nodes_pb2, tracking_pb2

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


def track_message(run_id: str, attempt: int, batch: dict[str, Any]) -> nodes_pb2.AgentMessage:
    """The SDK's JSON batch as the wire's TrackBatch (metrics as columns)."""
    keys: dict[str, int] = {}
    cols = tracking_pb2.MetricColumns()
    for key, value, step, ts in batch.get("metrics", ()):
        cols.key_index.append(keys.setdefault(key, len(keys)))
        cols.value.append(float(value))
        cols.step.append(int(step))
        cols.timestamp.append(ts / 1000.0)
    cols.keys.extend(keys)
    env = dict(batch.get("environment") or {})
    return nodes_pb2.AgentMessage(
        track=tracking_pb2.TrackBatch(
            run_id=run_id,
            attempt=attempt,
            pid=sender_id(batch["pid"], batch.get("proc", "")),
            seq=batch["seq"],
            params=batch.get("params", {}),
            tags=batch.get("tags", {}),
            metrics=cols,
            artifacts=batch.get("artifacts", []),
            datasets=batch.get("datasets", []),
            models=[
                tracking_pb2.LoggedModel(path=m["path"], name=m.get("name") or "", flavor=m.get("flavor") or "")
                for m in batch.get("models", [])
            ],
            environment={k: str(v) for k, v in env.items()},
        )
    )


class RunEnvironment:
    def __init__(self, data: Path, spool: Spool, run_id: str, attempt: int, docker: bool) -> None:
        self.data, self.spool, self.run_id, self.attempt, self.docker = data, spool, run_id, attempt, docker
        self.sockets = socket_dir(run_id, attempt)
        self.datasets: dict[str, Path] = {}
        self.server: TrackingServer | None = None

    def prepare_datasets(self, client: Client, project: str, mounts: list[nodes_pb2.DatasetMount]) -> None:
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
        message = track_message(self.run_id, self.attempt, batch)
        with self.spool.transaction() as conn:
            Spool.append(conn, message.SerializeToString())
            Spool.mark_track(conn, self.run_id, self.attempt, batch["pid"], batch.get("proc", ""), batch["seq"])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        shutil.rmtree(self.sockets, ignore_errors=True)

    def env_and_mounts(self, workdir: str) -> tuple[dict[str, str], tuple[Mount, ...]]:
        sdk = prepare_sdk(self.data / "sdk")
        if self.docker:
            env = {
                "PYTHONPATH": SDK_TARGET,
                "KILN_TRACK_SOCKET": f"{TRACK_TARGET}/sock",
                "KILN_WORKDIR": "/work",
                "KILN_DATASETS": DATASETS_TARGET,
            }
            mounts = [Mount(sdk, SDK_TARGET), Mount(self.sockets, TRACK_TARGET, read_only=False)]
            mounts += [Mount(path, f"{DATASETS_TARGET}/{name}") for name, path in self.datasets.items()]
            return env, tuple(mounts)
        env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(sdk), os.environ.get("PYTHONPATH", "")])),
            "KILN_TRACK_SOCKET": str(self.sockets / "sock"),
            "KILN_WORKDIR": workdir,
            "KILN_DATASETS": json.dumps({name: str(path) for name, path in self.datasets.items()}),
        }
        env.update({f"KILN_DATASET_{_env_name(name)}": str(path) for name, path in self.datasets.items()})
        return env, ()


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def dataset_folder(client: Client, cache: BlobCache, root: Path, project: str, snapshot: str) -> Path:
    """The snapshot materialised under `root`, once (built aside and renamed, so never seen half-made)."""
    final = root / snapshot
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{snapshot[:12]}-", dir=root))
    try:
        materialize(client, cache, project, snapshot, building / "tree", building / "statcache")
        _read_only(building / "tree")
        os.rename(building / "tree", final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


def _read_only(tree: Path) -> None:
    """Datasets are shared by runs: take write permission away (Docker also mounts them read-only)."""
    for path in [*tree.rglob("*"), tree]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)
