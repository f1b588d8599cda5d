"""Users of their own for jobs, where the agent is root: each job runs as a uid no other job and no other
program of the node has, so what file permissions and the kernel keep between users keeps jobs apart: one
job cannot read another's files, signal or trace its processes, or reach its /proc entries, and none of
them reaches what only root may (the node's key, the spool, the blob cache).

Uids are numbers from a range of their own, `JOB_UID_BASE` and up (between systemd's ranges for containers'
and for foreign users, far above any person's uid), with no passwd entry: a job is told its user's name in
USER and LOGNAME. Each uid is taken by creating a file named after its slot with O_EXCL in one folder for
the whole host (`/run/kiln/job-uids`, cleared at boot, as the jobs are), so no two jobs of any agent of
the host, runtime or thread ever hold the same; it is given back once the job is reaped and every process
left with that uid has been killed: a uid is never reused while anything of its last job still runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

# The first uid (and gid) of the range; KILN_AGENT_JOB_UID_BASE in the agent's environment moves it.
JOB_UID_BASE = 1_900_000_000
JOB_UID_BASE_ENV = "KILN_AGENT_JOB_UID_BASE"
SLOTS = 65_536
# Where the host's job uids are recorded (the agent's systemd unit makes /run/kiln: RuntimeDirectory).
REGISTRY = Path("/run/kiln/job-uids")
REGISTRY_ENV = "KILN_AGENT_JOB_UIDS_DIR"


def registry(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(REGISTRY_ENV) or REGISTRY)


def uid_base(environ: Mapping[str, str]) -> int:
    text = environ.get(JOB_UID_BASE_ENV, "").strip()
    if not text:
        return JOB_UID_BASE
    base = int(text)
    if not 1000 <= base <= 2**31 - 1 - SLOTS:
        raise ValueError(f"{JOB_UID_BASE_ENV}={text} must be a uid from 1000 to {2**31 - 1 - SLOTS}")
    return base


def user_name(uid: int) -> str:
    return f"kiln-job-{uid}"


class JobUsers:
    """The uids taken by the host's jobs, one file per slot in `folder` (shared by every runtime and agent)."""

    def __init__(self, folder: Path, base: int = JOB_UID_BASE) -> None:
        self.folder = folder
        self.base = base
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)

    @classmethod
    def of_host(cls, environ: Mapping[str, str]) -> JobUsers:
        return cls(registry(environ), uid_base(environ))

    def take(self, owner: str) -> int:
        """A uid no live job has, recorded as `owner`'s (e.g. "process run-1.2")."""
        for slot in range(SLOTS):
            try:
                fd = os.open(self.folder / str(slot), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                f.write(owner)
            return self.base + slot
        raise OSError(f"all {SLOTS} job users of this node are taken")

    def give_back(self, uid: int) -> None:
        """Kills whatever still runs as `uid`, then frees it for another job."""
        kill_user(uid)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / str(uid - self.base)).unlink()

    def taken(self) -> dict[int, str]:
        """uid -> owner, for every uid taken."""
        found = {}
        for path in self.folder.iterdir():
            if path.name.isdigit():
                with contextlib.suppress(FileNotFoundError):
                    found[self.base + int(path.name)] = path.read_text()
        return found


# Becomes the user, then kill(-1, SIGKILL): every process that user may signal, which is every process of
# that user (itself included), and no other.
_KILL_ALL = "import os, signal, sys; u = int(sys.argv[1]); os.setgroups([]); os.setgid(u); os.setuid(u); os.kill(-1, 9)"


def kill_user(uid: int) -> None:
    """SIGKILL for every process running as `uid` (a job's leftovers, however they left its process group).
    The user is taken on in a child of its own: subprocess's `user=` would fork this process, whose gRPC
    threads do not survive a fork."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-S", "-c", _KILL_ALL, str(uid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )


def give(paths: Iterable[Path], uid: int, recursive: bool = False) -> None:
    """Makes `paths` the job user's (its working folder, its home, its socket): owned by it, 0700 at the top,
    so no other job can enter them. `recursive` for a tree made by the agent (the materialised snapshot)."""
    for top in paths:
        if recursive:
            for folder, dirs, files in os.walk(top):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(folder, name), uid, uid)
        else:
            for child in top.iterdir() if top.is_dir() else ():
                os.lchown(child, uid, uid)
        os.lchown(top, uid, uid)
        if top.is_dir():
            top.chmod(0o700)
