"""Read-only folders for a plain process: a private mount namespace in which each given folder is bound
read-only over itself, so a job's writes there fail with EROFS even when it runs as root.

The supervisor calls `isolate()` on itself before it starts the job; the job inherits the namespace. The
binds are made in a namespace whose mounts do not propagate back, so the node sees nothing of them and
they vanish with the job. Root could undo a bind (remount it read-write, unmount it) or reach the node's
own view of the files through `/proc/PID/root` of a process outside the namespace, so the job is also
denied CAP_SYS_ADMIN and CAP_SYS_PTRACE: its capability bounding set loses them before it starts, so it
never has them. A job cannot regain them with a user namespace of its own either, because the kernel
locks the flags of mounts inherited into a less privileged namespace.

Where the agent cannot do this (not root, no CAP_SYS_ADMIN, a container without it) or an admin turned it
off (`KILN_AGENT_NO_NAMESPACES=1`), jobs run without it; the agent's datasets then rely on being checked
before each reuse (agent/datasets.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

# The admin's switch: jobs of the process runtime run without a mount namespace of their own.
NO_NAMESPACES_ENV = "KILN_AGENT_NO_NAMESPACES"

_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_CAP_SYS_PTRACE, _CAP_SYS_ADMIN = 19, 21
DROPPED_CAPS = (_CAP_SYS_ADMIN, _CAP_SYS_PTRACE)
PROBE_TIMEOUT_S = 30


class IsolationError(OSError):
    """The folders could not be made read-only for the job; the message names the step that failed."""


def _libc() -> ctypes.CDLL:
    if not sys.platform.startswith("linux"):
        raise IsolationError(errno.ENOSYS, "mount namespaces exist only on Linux")
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return libc


def _check(result: int, step: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise IsolationError(code, f"{step}: {os.strerror(code)}")


def isolate(read_only: Iterable[str]) -> None:
    """Puts this process in a private mount namespace where every folder of `read_only` is read-only,
    and takes away the capabilities that could undo that. Only for a process about to start the job."""
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")
    for folder in read_only:
        path = os.fsencode(folder)
        # A remount may not drop the flags the folder's filesystem is mounted with: keep them.
        kept = os.statvfs(path).f_flag & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
        _check(libc.mount(path, path, None, _MS_BIND | _MS_REC, None), f"binding {folder}")
        _check(libc.mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept, None), f"read-only {folder}")
    for cap in DROPPED_CAPS:
        _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # fails only where ambient caps do not exist
    inheritable = _inheritable_caps()
    if any(inheritable >> cap & 1 for cap in DROPPED_CAPS):
        # root's next program would get its inheritable capabilities back (the bounding set does not limit them)
        raise IsolationError(errno.EPERM, "this process has CAP_SYS_ADMIN or CAP_SYS_PTRACE as inheritable")


def _inheritable_caps() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapInh:"):
            return int(line.split()[1], 16)
    return 0


def wanted(environ: Mapping[str, str]) -> bool:
    """False when the node's admin turned namespaces off for process jobs."""
    return environ.get(NO_NAMESPACES_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


@functools.cache
def available() -> str:
    """Empty when read-only namespaces work here, else why not: tried once per agent process, in a child (a
    namespace cannot be left, and the agent has threads), by a write that must fail."""
    if not sys.platform.startswith("linux"):
        return "mount namespaces exist only on Linux"
    with tempfile.TemporaryDirectory(prefix="kiln-ns-probe-") as folder:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "kiln.agent.runtimes.isolation", folder],
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                env={**os.environ, "PYTHONSAFEPATH": "1"},
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"the probe did not run: {e}"
        if done.returncode != 0:
            return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"probe exit {done.returncode}"
        return ""


def _probe(folder: str) -> int:
    """`python -m kiln.agent.runtimes.isolation FOLDER`: exit 0 if FOLDER becomes read-only for this process
    and a child cannot write to it; else a one-line reason on stderr."""
    try:
        isolate([folder])
    except OSError as e:
        print(e, file=sys.stderr)
        return 1
    try:
        Path(folder, "probe").write_text("x")
    except OSError as e:
        if e.errno == errno.EROFS:
            return 0
        print(f"writing the read-only folder failed with {e}, not EROFS", file=sys.stderr)
        return 1
    print("a folder bound read-only could still be written", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(_probe(sys.argv[1]))
