"""Isolation for a plain process, in namespaces of its own: read-only folders, a private view of the
node's folders, and no network.

Read-only: a private mount namespace in which each given folder is bound read-only over itself, so a job's
writes there fail with EROFS even when it runs as root.

A private view: each `hide` folder (the agent's data folder, and private folders above the job's own, such
as /root above the agent's Python) is covered by an empty tmpfs, and only the job's own paths (`expose`:
its working folder, job folder, mounts, the agent's Python) are bound back at their places. The job sees
nothing else of them: not the node's key, the spool, the blob cache, other runs' folders or datasets.

No network (`network none`): a network namespace with only a loopback interface, brought up, so
127.0.0.1 inside is the job's own and nothing of the host is reachable. An agent that is not root gets
one through a user namespace of its own where the kernel allows that (most do).

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
import fcntl
import functools
import logging
import os
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# The admin's switch: jobs of the process runtime run without a mount namespace of their own.
NO_NAMESPACES_ENV = "KILN_AGENT_NO_NAMESPACES"

_CLONE_NEWNS, _CLONE_NEWNET, _CLONE_NEWUSER = 0x00020000, 0x40000000, 0x10000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_PR_SET_NO_NEW_PRIVS = 38
_NAMES = (("CLONE_NEWNS", _CLONE_NEWNS), ("CLONE_NEWNET", _CLONE_NEWNET))
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


def isolate(
    read_only: Iterable[str],
    hide: Sequence[str] = (),
    expose: Sequence[tuple[str, bool]] = (),
    network: bool = False,
) -> None:
    """Puts this process in a private mount namespace where every folder of `read_only` is read-only and
    every `hide` folder is empty but for the `expose` paths under it (path, writable), in a network
    namespace of its own if `network` (cut off: loopback only), and takes away the capabilities that could
    undo that. Only for a process about to start the job, as root."""
    libc = _libc()
    read_only = list(read_only)
    mounts = bool(read_only or hide)
    flags = (_CLONE_NEWNS if mounts else 0) | (_CLONE_NEWNET if network else 0)
    _check(libc.unshare(flags), "unshare(" + " | ".join(n for n, f in _NAMES if flags & f) + ")")
    if network:
        _loopback_up()
    if mounts:
        _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")
    hidden = _private_view(libc, hide, expose) if mounts else []
    exposed = [path for path, _ in expose]
    for folder in read_only:
        if any(_under(folder, h) for h in hidden) and not any(_under(folder, e) for e in exposed):
            continue  # out of the job's view altogether
        _bind_read_only(libc, folder)
    _drop_capabilities(libc)


def isolate_network() -> None:
    """A network namespace of this process's own (loopback only), for an agent that is not root: through a
    user namespace in which this process keeps its uid and gid. Only for a process about to start the job."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET), "unshare(CLONE_NEWUSER | CLONE_NEWNET)")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _loopback_up()


def no_new_privileges() -> None:
    """The job, and all it starts, can never gain privileges (setuid programs do not raise them)."""
    _check(_libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _bind_read_only(libc: ctypes.CDLL, folder: str) -> None:
    path = os.fsencode(folder)
    # A remount may not drop the flags the folder's filesystem is mounted with: keep them.
    kept = os.statvfs(path).f_flag & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    _check(libc.mount(path, path, None, _MS_BIND | _MS_REC, None), f"binding {folder}")
    _check(libc.mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept, None), f"read-only {folder}")


def _private_view(libc: ctypes.CDLL, hide: Sequence[str], expose: Sequence[tuple[str, bool]]) -> list[str]:
    """Covers each `hide` folder with an empty tmpfs and binds the `expose` paths under them back in place
    (each opened first, so it is reached once its way is covered). Returns the folders hidden."""
    sources = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path, _ in expose}
    try:
        hidden: list[str] = []
        for folder in sorted(hide, key=len):
            if any(_under(folder, h) for h in hidden) or not os.path.isdir(folder):
                continue
            data = b"mode=0755,size=1m"
            _check(libc.mount(b"kiln", os.fsencode(folder), b"tmpfs", _MS_NOSUID | _MS_NODEV, data), f"hiding {folder}")
            hidden.append(folder)
        for path, writable in sorted(expose, key=lambda e: len(e[0])):
            if not any(_under(path, h) for h in hidden):
                continue
            if os.path.isdir(f"/proc/self/fd/{sources[path]}"):
                os.makedirs(path, exist_ok=True)  # the way to it, made afresh in the tmpfs
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                Path(path).touch()
            source = os.fsencode(f"/proc/self/fd/{sources[path]}")
            _check(libc.mount(source, os.fsencode(path), None, _MS_BIND | _MS_REC, None), f"showing {path}")
            if not writable:
                _bind_read_only(libc, path)
        return hidden
    finally:
        for fd in sources.values():
            os.close(fd)


def _loopback_up() -> None:
    """Brings up `lo` in this (new) network namespace, which starts with it down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _drop_capabilities(libc: ctypes.CDLL) -> None:
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
        return _run_probe(folder)


@functools.cache
def network_available() -> str:
    """Empty when a job can be cut off the network here (a network namespace: as root, or through a user
    namespace), else why not; tried once per agent process, in a child, by a loopback connection."""
    if not sys.platform.startswith("linux"):
        return "network namespaces exist only on Linux"
    return _run_probe("--network")


def _run_probe(argument: str) -> str:
    """Runs this module's probe (`__main__` below) in a child with `argument`: "" when it passed, else the
    last line it wrote, which says why."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kiln.agent.runtimes.isolation", argument],
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


def cut_off() -> None:
    """This process, about to start a job, in a network namespace of its own, as root or not."""
    if os.geteuid() == 0:
        isolate([], network=True)
    else:
        isolate_network()


def _probe_network() -> int:
    try:
        cut_off()
        with socket.create_server(("127.0.0.1", 0)) as server:
            socket.create_connection(server.getsockname(), timeout=5).close()
    except OSError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


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
    sys.exit(_probe_network() if sys.argv[1] == "--network" else _probe(sys.argv[1]))
