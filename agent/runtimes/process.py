"""The process runtime, for nodes without Docker: each job is a plain process under a supervisor.

The supervisor (`supervise.py`) runs in its own session and records everything in the job's folder
(`state_dir/jobs/<run_id>.<attempt>/`), so a job outlives the agent and a restarted agent re-attaches by
reading the folder: output files from any offset, `exit.json` once it ended. Mounts are symlinks (the
job's paths name the real folders), limits are not enforced, and GPUs are only selected with
CUDA_VISIBLE_DEVICES. The agent's environment is kept from the job (it starts from a short allow-list,
`job_env`).

Where the agent is root and namespaces work, a job is isolated (`isolation.py`, `jobuser.py`): it runs as
a user of its own, in a mount namespace in which its read-only mounts (datasets, the SDK) are read-only
and the agent's data folder is hidden but for the job's own folders (so no key, spool, cache, or other
run), and `network none` gives it a network namespace with loopback only. Where the agent cannot, the
probe line (`kiln nodes`) and the agent's log say what a job can reach; `network none` then still gets a
network namespace through a user namespace where the kernel allows one, and a run that asks for it on a
node that cannot give it is refused.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import platform
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from kiln.agent.runtimes import isolation, jobuser
from kiln.agent.runtimes.base import WORKDIR_IN_JOB, JobEvents, JobHandle, JobSpec, Runtime, register
from kiln.agent.runtimes.supervise import (
    CANCEL_FILE,
    CHILD_PID_FILE,
    EXIT_FILE,
    SPEC_FILE,
    STREAMS,
    signal_group,
)
from kiln.core.atomic import atomic_write
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from kiln.core.paths import check_relpath

log = logging.getLogger(__name__)

PID_FILE = "pid"
VIEW_DIR = "view"  # the job's mounts as symlinks at their container paths
HOME_DIR = "home"  # the job's HOME, fresh for each job
TMP_DIR = "tmp"  # the job's TMPDIR
LOCK_FILE = "lock"
REAPED_FILE = "reaped"
# How often a job's output files are looked at for new bytes (and a cancel for its end).
POLL_S = 0.05
READ_CHUNK = 1 << 16
KILLED_EXIT_CODE = 128 + signal.SIGKILL
KILL_WAIT_S = 10.0
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


# What of the agent's own environment a job is given; nothing else of it is (no KILN_HOME, no tokens, no
# cloud credentials). Plus every LC_* variable; PATH and LANG get defaults where the agent has none.
PASSED_ON = ("PATH", "LANG", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
DEFAULT_LANG = "C.UTF-8"


def job_env(spec: JobSpec, jobdir: Path, agent_env: Mapping[str, str], user: str = "") -> dict[str, str]:
    """The job's whole environment, clean as a container's: PATH, LANG, LC_* and TZ of the agent's, a HOME
    and TMPDIR of the job's own (in its job folder, gone when it is reaped), USER and LOGNAME (its own user's
    name, else the agent's), Kiln's paths made real, then the run's own variables, which win; then the GPUs
    it was given and no others (an empty CUDA_VISIBLE_DEVICES hides the node's GPUs from a job that was
    given none) and where its mounts are."""
    env = {k: v for k, v in agent_env.items() if k in PASSED_ON or k.startswith("LC_")}
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("LANG", DEFAULT_LANG)
    user = user or _user_name()
    env |= {"HOME": str(jobdir / HOME_DIR), "TMPDIR": str(jobdir / TMP_DIR), "USER": user, "LOGNAME": user}
    env |= {name: host_path(spec, jobdir / VIEW_DIR, path) for name, path in spec.paths.items()}
    if spec.python_env is not None:  # its python and scripts first, as activating it would do
        env |= {"PATH": f"{spec.python_env / 'bin'}:{env['PATH']}", "VIRTUAL_ENV": str(spec.python_env)}
    env.update(spec.env)  # what the run asked for wins
    env["CUDA_VISIBLE_DEVICES"] = ",".join(spec.gpu_uuids)
    env["KILN_MOUNTS"] = json.dumps({m.target: str(m.host) for m in spec.mounts})
    return env


def _user_name() -> str:
    """The job runs as the agent's user: its name, or its number where the system has no name for it."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def read_only_folders(spec: JobSpec, jobdir: Path) -> list[str]:
    """What the job must not change, for a mount namespace: its read-only mounts, its view of them, and the
    node's folders it must not touch though a process can reach them (other dataset versions, the cache)."""
    folders = [str(m.host) for m in spec.mounts if m.read_only and m.host.exists()]
    protected = [str(p) for p in spec.protect if p.is_dir()]
    return [*folders, *protected, str(jobdir / VIEW_DIR)]


def host_path(spec: JobSpec, view: Path, path: str) -> str:
    """Where a path of a container's view is for a plain process: inside a mount (or /work), that folder
    itself; anything else, such as a folder holding mounts (/datasets), under the job's view folder."""
    places = [(WORKDIR_IN_JOB, spec.workdir), *((m.target, m.host) for m in spec.mounts if m.target.startswith("/"))]
    for target, host in sorted(places, key=lambda p: -len(p[0])):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return str(host) + path[len(target.rstrip("/")) :]
    return str(view / path.lstrip("/"))


def build_view(spec: JobSpec, view: Path) -> None:
    """Every absolutely placed mount as a symlink under `view`, so the folders holding them are real."""
    for mount in spec.mounts:
        if mount.target.startswith("/"):
            link = view / check_relpath(mount.target.lstrip("/"))
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(mount.host)


def link_mounts(spec: JobSpec) -> None:
    """Relative mount targets become symlinks in the working folder (absolute ones are only listed in
    KILN_MOUNTS: a plain process cannot be given a path of its own at /data)."""
    for mount in spec.mounts:
        if mount.target.startswith("/"):
            continue
        link = spec.workdir / check_relpath(mount.target)
        if link.is_symlink() and Path(os.readlink(link)) == mount.host:
            continue  # already there: starting again after a crash
        if link.exists() or link.is_symlink():
            raise FailedPrecondition(f"mount target {mount.target!r} already exists in {spec.workdir}")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(mount.host)


def supervisor_alive(jobdir: Path) -> bool:
    """True while the supervisor holds its lock; unlike a pid, a lock cannot outlive its process."""
    try:
        fd = os.open(jobdir / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def write_exit_if_absent(jobdir: Path, exit_code: int, reason: str) -> None:
    """Records an end the supervisor could not record (it was killed); never replaces the one it did."""
    data = json.dumps({"exit_code": exit_code, "reason": reason}).encode()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{EXIT_FILE}.", dir=jobdir)
    except FileNotFoundError:  # reaped meanwhile: the end was recorded and delivered already
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
        os.link(tmp, jobdir / EXIT_FILE)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Polls `condition()` until true or `timeout` seconds pass: a grace period, not test synchronisation."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def launch_supervisor(jobdir: Path) -> subprocess.Popen[bytes]:
    """Starts the supervisor in a new session, holding the job's lock from before it runs to its end."""
    lock_fd = os.open(jobdir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        with open(jobdir / "supervisor.log", "ab") as supervisor_log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kiln.agent.runtimes.supervise", str(jobdir), str(lock_fd)],
                start_new_session=True,
                pass_fds=(lock_fd,),
                stdin=subprocess.DEVNULL,
                stdout=supervisor_log,
                stderr=subprocess.STDOUT,
            )
        # Written here, before start() returns, so a cancel right after start finds it.
        atomic_write(jobdir / PID_FILE, f"{proc.pid}\n".encode(), durable=False)
        return proc
    finally:
        os.close(lock_fd)  # the supervisor's inherited copy keeps the lock


def namespace_problem(environ: Mapping[str, str]) -> str:
    """Empty where jobs get read-only mounts in a namespace of their own, else why they do not."""
    if not isolation.wanted(environ):
        return f"turned off ({isolation.NO_NAMESPACES_ENV} is set)"
    return isolation.available()


def isolation_summary(namespace: str, network: str) -> str:
    """What a job of this node can and cannot reach, in one line (the probe's, and the agent's log)."""
    if not namespace and os.geteuid() == 0:
        where = "read-only mounts in a mount namespace, as users of their own, the agent's data folder hidden"
    else:
        root = os.geteuid() == 0
        who = "root" if root else f"the agent's user {_user_name()}"
        fix = "give the agent namespaces" if root else "run the agent as root"
        where = (
            f"no mount namespace: {namespace or 'the agent is not root'}; jobs run as {who} and can read the "
            f"agent's data folder ({fix} for jobs as users of their own, with it hidden)"
        )
    cut = "network none by a network namespace" if not network else f"network none refused: {network}"
    return f"{where}; {cut}"


def closed_above(path: str) -> str:
    """The topmost folder above `path` that other users cannot enter (/root above a Python of root's), or ""."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        folder = os.path.join(*parts[:i])
        try:
            if not os.stat(folder).st_mode & 0o001:
                return folder
        except OSError:
            return ""
    return ""


def python_folders() -> list[str]:
    """The agent's Python (its venv and the installation under it), which jobs are told of and run."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return sorted(os.path.realpath(f) for f in folders if os.path.isdir(f))


@register
class ProcessRuntime(Runtime):
    name = "process"

    def __init__(self, state_dir: Path, private: tuple[Path, ...] = ()) -> None:
        super().__init__(state_dir, private)
        # Read once, at the agent's start, like its other settings.
        self.namespace_problem = namespace_problem(os.environ)
        self.network_problem = isolation.network_available()
        self.users: jobuser.JobUsers | None = None
        if not self.namespace_problem and os.geteuid() == 0:
            self.users = jobuser.JobUsers.of_host(os.environ)
            self._give_back_leftovers()
        summary = isolation_summary(self.namespace_problem, self.network_problem)
        if self.users is None:
            log.warning("process jobs are not isolated: %s; their datasets are checked before each reuse", summary)
        else:
            log.info("process jobs: %s", summary)

    @classmethod
    def probe(cls) -> str:
        summary = isolation_summary(namespace_problem(os.environ), isolation.network_available())
        return f"processes (Python {platform.python_version()} at {sys.executable}), {summary}"

    def _give_back_leftovers(self) -> None:
        """Users of this runtime's jobs whose job folder is gone (the agent stopped between reaping a job and
        giving its user back) are given back, their processes killed."""
        assert self.users is not None
        jobs = self.state_dir / "jobs"
        for uid, owner in self.users.taken().items():
            kind, _, job = owner.partition(" ")
            if kind == self.name and Path(job).parent == jobs and not Path(job).is_dir():
                self.users.give_back(uid)

    def jobdir(self, run_id: str, attempt: int) -> Path:
        if not RUN_ID_RE.match(run_id):
            raise InvalidArgument(f"run id {run_id!r} cannot name a job folder")
        return self.state_dir / "jobs" / f"{run_id}.{attempt}"

    def start(self, spec: JobSpec, events: JobEvents) -> JobHandle:
        if not spec.command:
            raise InvalidArgument(f"run {spec.run_id}: empty command")
        if spec.network == "none" and self.network_problem:
            raise FailedPrecondition(
                f"run {spec.run_id} asks for network none, which this node cannot give a process job "
                f"({self.network_problem}); run it with --network host, or on a node that can"
            )
        jobdir = self.jobdir(spec.run_id, spec.attempt)
        if jobdir.exists():
            raise AlreadyExists(f"run {spec.run_id} attempt {spec.attempt} already has {jobdir}: reap it first")
        if not spec.workdir.is_dir():
            raise FailedPrecondition(f"run {spec.run_id}: working folder {spec.workdir} does not exist")
        link_mounts(spec)
        jobdir.mkdir(parents=True)
        for folder in (VIEW_DIR, HOME_DIR, TMP_DIR):
            (jobdir / folder).mkdir(mode=0o700)
        build_view(spec, jobdir / VIEW_DIR)
        uid = None if self.users is None else self.users.take(f"{self.name} {jobdir}")
        try:
            job: dict[str, object] = {"run_id": spec.run_id, "attempt": spec.attempt, "command": list(spec.command)}
            user = "" if uid is None else jobuser.user_name(uid)
            job |= {"workdir": str(spec.workdir), "env": job_env(spec, jobdir, os.environ, user)}
            job |= {"network": spec.network, "uid": uid}
            job["read_only"] = [] if self.namespace_problem else read_only_folders(spec, jobdir)
            if uid is not None:
                job |= self._own(spec, jobdir, uid)
            atomic_write(jobdir / SPEC_FILE, json.dumps(job).encode())
            for stream in STREAMS:
                (jobdir / stream).touch(mode=0o600)
            proc = launch_supervisor(jobdir)
        except BaseException:
            if uid is not None and self.users is not None:
                self.users.give_back(uid)
            raise
        handle = JobHandle(self.name, spec.run_id, spec.attempt, str(jobdir))
        self._follow(handle, events, {}, proc)
        return handle

    def _own(self, spec: JobSpec, jobdir: Path, uid: int) -> dict[str, object]:
        """Gives the job user its folders (working folder, home, temp, writable mounts such as the SDK's
        socket) and says what of the node it sees: its own paths and the agent's Python, the agent's data
        folder and private folders above them hidden."""
        writable = [m.host for m in spec.mounts if not m.read_only and m.host.exists()]
        jobuser.give([spec.workdir], uid, recursive=True)
        jobuser.give([jobdir / HOME_DIR, jobdir / TMP_DIR, *writable], uid)
        jobdir.chmod(0o711)  # its own folders in it are the job's; the supervisor's files (0600) are not
        (jobdir / VIEW_DIR).chmod(0o755)
        expose = [(str(spec.workdir), True), (str(jobdir), True)]
        expose += [(str(m.host), not m.read_only) for m in spec.mounts if m.host.exists()]
        expose += [(folder, False) for folder in python_folders()]
        if spec.python_env is not None:  # in the agent's data folder, which the job otherwise never sees
            expose.append((str(spec.python_env), False))
        hide = {str(p) for p in self.private if p.is_dir()} | {closed_above(path) for path, _ in expose}
        return {"hide": sorted(hide - {""}), "expose": expose, "writable": [str(w) for w in writable]}

    def running(self) -> list[JobHandle]:
        jobs = self.state_dir / "jobs"
        handles = []
        for folder in sorted(jobs.iterdir()) if jobs.is_dir() else []:
            run_id, _, attempt = folder.name.rpartition(".")
            if folder.is_dir() and run_id and attempt.isdigit() and not (folder / REAPED_FILE).exists():
                handles.append(JobHandle(self.name, run_id, int(attempt), str(folder)))
        return handles

    def attach(self, handle: JobHandle, events: JobEvents, skip: dict[str, int]) -> None:
        uid, writable = self._user_of(Path(handle.ref))
        if uid is not None:  # a restarted agent made the SDK's socket anew: the job's again
            jobuser.give([Path(w) for w in writable if Path(w).exists()], uid)
        self._follow(handle, events, skip, None)

    def _user_of(self, jobdir: Path) -> tuple[int | None, list[str]]:
        try:
            job = json.loads((jobdir / SPEC_FILE).read_text())
        except (OSError, ValueError):
            return None, []
        return job.get("uid"), list(job.get("writable", ()))

    def cancel(self, handle: JobHandle, grace_s: float) -> None:
        jobdir = Path(handle.ref)
        (jobdir / CANCEL_FILE).touch()  # read by the supervisor, and by whoever records a killed one
        pid = read_pid(jobdir / PID_FILE)
        if pid is None or not supervisor_alive(jobdir):
            return
        signal_group(pid, signal.SIGTERM)
        wait_for(lambda: (jobdir / EXIT_FILE).exists() or not supervisor_alive(jobdir), grace_s)
        # The job may have ended, been reported and been reaped during the grace period: then all is done.
        if jobdir.is_dir() and not (jobdir / REAPED_FILE).exists() and not (jobdir / EXIT_FILE).exists():
            self._kill(jobdir)
            write_exit_if_absent(jobdir, KILLED_EXIT_CODE, "cancelled")

    def reap(self, handle: JobHandle) -> None:
        jobdir = Path(handle.ref)
        if not jobdir.is_dir():
            return
        try:
            (jobdir / REAPED_FILE).touch()  # a half-deleted folder is no longer listed by running()
        except FileNotFoundError:  # reaped meanwhile (its job ended and the agent cleaned up): nothing left
            return
        self._kill(jobdir)
        uid, _ = self._user_of(jobdir)
        shutil.rmtree(jobdir, ignore_errors=True)
        if uid is not None and self.users is not None:
            self.users.give_back(uid)

    def _kill(self, jobdir: Path) -> None:
        """SIGKILL for the job's group and its supervisor, and wait until the supervisor is gone."""
        if not supervisor_alive(jobdir):
            return
        child = read_pid(jobdir / CHILD_PID_FILE)
        if child is not None:
            signal_group(child, signal.SIGKILL)
        pid = read_pid(jobdir / PID_FILE)
        if pid is not None:
            signal_group(pid, signal.SIGKILL)
        if not wait_for(lambda: not supervisor_alive(jobdir), KILL_WAIT_S):
            log.warning("the supervisor of %s survived SIGKILL for %ss", jobdir, KILL_WAIT_S)

    def _follow(
        self, handle: JobHandle, events: JobEvents, skip: dict[str, int], proc: subprocess.Popen[bytes] | None
    ) -> None:
        offsets = {s: skip.get(s, 0) for s in STREAMS}
        thread = threading.Thread(
            target=self._tail,
            args=(Path(handle.ref), events, offsets, proc),
            name=f"process-{handle.run_id}.{handle.attempt}",
            daemon=True,
        )
        thread.start()

    def _tail(
        self, jobdir: Path, events: JobEvents, offsets: dict[str, int], proc: subprocess.Popen[bytes] | None
    ) -> None:
        """Delivers new output until the job's end is recorded and its files are drained, then the end."""
        try:
            files = {s: _open_at(jobdir / s, offsets[s]) for s in STREAMS}
        except OSError as e:
            events.exited(-1, f"lost: {e}")
            return
        try:
            self._tail_files(jobdir, events, files)
            if proc is not None:
                proc.wait()  # it has recorded the end and is leaving: no zombie is left behind
            end = json.loads((jobdir / EXIT_FILE).read_text())
        except (OSError, ValueError) as e:  # the folder was reaped or damaged under us
            events.exited(-1, f"lost: {e}")
            return
        finally:
            for f in files.values():
                f.close()
        events.exited(int(end["exit_code"]), str(end["reason"]))

    def _tail_files(self, jobdir: Path, events: JobEvents, files: dict[str, IO[bytes]]) -> None:
        while True:
            ended = (jobdir / EXIT_FILE).exists()  # looked at before the last read, so nothing is missed
            for stream, f in files.items():
                _drain(f, stream, events)
            if ended:
                return
            if not supervisor_alive(jobdir) and not (jobdir / EXIT_FILE).exists():
                reason = "cancelled" if (jobdir / CANCEL_FILE).exists() else "lost: the supervisor died"
                write_exit_if_absent(jobdir, KILLED_EXIT_CODE if reason == "cancelled" else -1, reason)
                continue
            time.sleep(POLL_S)


def _open_at(path: Path, offset: int) -> IO[bytes]:
    f = open(path, "rb", buffering=0)  # noqa: SIM115  (closed by the tailing thread)
    f.seek(offset)
    return f


def _drain(f: IO[bytes], stream: str, events: JobEvents) -> None:
    while chunk := f.read(READ_CHUNK):
        events.output(stream, chunk)
