"""The small typed interface every runtime implements, and the registry that names them.

A runtime starts a job described by a `JobSpec`, reports its output and exit through a `JobEvents`
callback (never through the coordinator link), can find the jobs it started after the agent restarted
(so they are re-attached, not lost), and cancels with SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol


class RuntimeUnavailable(Exception):
    """This runtime cannot run on this node (no Docker engine, ...); the message says why."""


# Where a job sees its working folder (the materialised snapshot), as a container does.
WORKDIR_IN_JOB = "/work"


@dataclass(frozen=True)
class Mount:
    """A folder of the node given to a job. Every runtime gets the same list and translates it: Docker binds
    `host` at `target`; a plain process reaches `host` itself (see JobSpec.paths), and a relative target
    is symlinked into its working folder."""

    host: Path
    target: str  # absolute, as a container sees it (/kiln/sdk, /datasets/images), or relative to the workdir
    read_only: bool = True


@dataclass(frozen=True)
class JobSpec:
    run_id: str
    attempt: int
    command: list[str]
    workdir: Path  # the materialised snapshot on this node; the job's working directory (Docker: /work)
    image: str = ""  # Docker only
    env: dict[str, str] = field(default_factory=dict)
    # Environment variables whose values are paths as a container sees them (/work, a mount's target or a
    # path inside one, or a folder holding mounts such as /datasets): each runtime makes them paths its
    # jobs can open. `env` wins over them where both name a variable.
    paths: dict[str, str] = field(default_factory=dict)
    cpus: float = 0.0  # 0: no limit
    memory_bytes: int = 0  # 0: no limit
    gpu_uuids: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: str = "none"  # Docker network mode: none, host, bridge, ...
    labels: dict[str, str] = field(default_factory=dict)  # extra labels; kiln.run / kiln.attempt are added
    # Folders of the node the job must not change though it could reach them (every dataset version and
    # the blob cache): a runtime that isolates its jobs makes them read-only for the job.
    protect: tuple[Path, ...] = ()
    # A virtual environment of the node's (kiln env): `python` in a process job is its interpreter, and its
    # scripts are on the job's PATH. Process runtime only (a Docker job's image is its environment).
    python_env: Path | None = None


@dataclass(frozen=True)
class JobHandle:
    """What identifies a started job to its runtime: enough to find, attach to, and cancel it later."""

    runtime: str
    run_id: str
    attempt: int
    ref: str  # container id (Docker) or the job folder (process)


class JobEvents(Protocol):
    def output(self, stream: str, data: bytes) -> None:
        """Bytes the job wrote to "stdout" or "stderr", in order per stream."""

    def exited(self, exit_code: int, reason: str) -> None:
        """The job ended (once); reason is "" for a normal exit, else e.g. "cancelled", "oom-killed"."""


class Runtime(abc.ABC):
    name: ClassVar[str]

    def __init__(self, state_dir: Path, private: tuple[Path, ...] = ()) -> None:
        """`state_dir` is this runtime's own folder on the node (job folders, pid files), kept across
        agent restarts. `private` are the node's folders no job may see, beyond what of them is its own
        (the agent's data folder: its key, spool, cache, other runs' folders)."""
        self.state_dir = state_dir
        self.private = private

    @classmethod
    @abc.abstractmethod
    def probe(cls) -> str:
        """A one-line description of what this runtime will use, or RuntimeUnavailable saying why not."""

    @abc.abstractmethod
    def start(self, spec: JobSpec, events: JobEvents) -> JobHandle:
        """Starts the job and begins streaming its output and exit to `events` in the background."""

    @abc.abstractmethod
    def running(self) -> list[JobHandle]:
        """Jobs this runtime started on this node that have not been reaped, running or finished (found
        by label or job folder), e.g. after the agent was killed and restarted."""

    @abc.abstractmethod
    def attach(self, handle: JobHandle, events: JobEvents, skip: dict[str, int]) -> None:
        """Resumes streaming a job found by `running()`; `skip` gives the bytes per stream already
        delivered, which are not delivered again. Reports `exited` if it already ended."""

    @abc.abstractmethod
    def cancel(self, handle: JobHandle, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after `grace_s` if the job is still running; `exited` follows."""

    def environment(self, handle: JobHandle) -> dict[str, str]:
        """What the job runs in, for the run's record (Docker adds the image id and digests)."""
        return {"runtime": self.name}

    @abc.abstractmethod
    def reap(self, handle: JobHandle) -> None:
        """Removes what is left of a finished job (container, job folder), once its results are safe."""


REGISTRY: dict[str, type[Runtime]] = {}


def register(cls: type[Runtime]) -> type[Runtime]:
    REGISTRY[cls.name] = cls
    return cls


def get_runtime(name: str) -> type[Runtime]:
    _load_builtins()
    try:
        return REGISTRY[name]
    except KeyError:
        raise RuntimeUnavailable(f"unknown runtime {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def available_runtimes() -> dict[str, str]:
    """name -> description for every runtime that can run here; unavailable ones are left out."""
    _load_builtins()
    found: dict[str, str] = {}
    for name, cls in sorted(REGISTRY.items()):
        try:
            found[name] = cls.probe()
        except RuntimeUnavailable:
            continue
    return found


def _load_builtins() -> None:
    from kiln.agent.runtimes import docker, process  # noqa: F401  (registering on import)
