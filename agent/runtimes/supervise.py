"""The supervisor of one process-runtime job: `python -m kiln.agent.runtimes.supervise JOBDIR [LOCK_FD]`.

It runs in its own session, so it outlives the agent that started it, and it is what makes a plain process
as recoverable as a container: the job's output goes to files (`stdout`, `stderr`) that any later agent
can read from any offset, and its end is recorded in `exit.json`, written atomically. The job runs in its
own process group, which receives the SIGTERM of a cancel; what is left of the group when the job ends is
killed, as Docker does when a container's main process ends.

LOCK_FD is an open file on `JOBDIR/lock` that the runtime flock()ed before starting us: holding it for our
whole life is how the runtime tells that we are still alive, without trusting a pid that may be reused.

The job gets exactly the environment the runtime wrote into the spec (never ours: we run with the agent's).
Where the spec asks for it, we enter namespaces before starting it (isolation.py): a mount namespace in
which its `read_only` folders are read-only and the `hide` folders hold only what `expose` gives back, and
a network namespace for `network none`; a job that was promised that and cannot have it does not start.
Where the spec names a `uid` (the agent is root), the job runs as that user, unable to gain privileges,
and when it ends every process left with that uid is killed, however it left the job's process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from kiln.agent.runtimes.isolation import cut_off, isolate, no_new_privileges
from kiln.agent.runtimes.jobuser import kill_user
from kiln.core.atomic import atomic_write

# Exit code of a job that could not be given its read-only folders (a shell's "cannot execute").
NOT_ISOLATED_EXIT_CODE = 126
# Names inside a job folder, shared with the process runtime.
SPEC_FILE = "spec.json"
EXIT_FILE = "exit.json"
CHILD_PID_FILE = "child.pid"
CANCEL_FILE = "cancel"
STREAMS = ("stdout", "stderr")


def exit_code_of(returncode: int) -> int:
    """A shell's and Docker's convention: death by signal N is 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def write_exit(jobdir: Path, exit_code: int, reason: str) -> None:
    data = json.dumps({"exit_code": exit_code, "reason": reason}).encode()
    atomic_write(jobdir / EXIT_FILE, data)


class Supervisor:
    def __init__(self, jobdir: Path) -> None:
        self.jobdir = jobdir
        self.child: subprocess.Popen[bytes] | None = None
        self.uid: int | None = None
        self.cancelled = False
        self._forwarded = False

    def on_term(self, signum: int, frame: FrameType | None) -> None:
        self.cancelled = True
        self._forward()

    def _forward(self) -> None:
        """Passes the cancel on to the job's group, once (a trap handler should not run twice)."""
        if self.child is not None and not self._forwarded:
            self._forwarded = True
            signal_group(self.child.pid, signal.SIGTERM)

    def run(self) -> int:
        spec = json.loads((self.jobdir / SPEC_FILE).read_text())
        if (self.jobdir / CANCEL_FILE).exists():
            self.cancelled = True  # cancelled before we could start it: do not start it
        if self.cancelled:
            return exit_code_of(-signal.SIGTERM)
        code = self._start(spec)
        if code is not None:
            return code
        assert self.child is not None
        atomic_write(self.jobdir / CHILD_PID_FILE, f"{self.child.pid}\n".encode(), durable=False)
        if self.cancelled:
            self._forward()
        returncode = self.child.wait()
        signal_group(self.child.pid, signal.SIGKILL)  # leftovers of the job, as when a container ends
        if self.uid is not None:
            kill_user(self.uid)  # and those that left its group: nothing else runs as its user
        return exit_code_of(returncode)

    def _start(self, spec: dict[str, Any]) -> int | None:
        """Starts the job; a command that cannot start is reported the way a shell does (126/127)."""
        command = [str(a) for a in spec["command"]]
        env = {str(k): str(v) for k, v in spec["env"].items()}
        read_only = [str(p) for p in spec.get("read_only", ())]
        hide = [str(p) for p in spec.get("hide", ())]
        expose = [(str(p), bool(w)) for p, w in spec.get("expose", ())]
        network = spec.get("network") == "none"
        self.uid = None if spec.get("uid") is None else int(spec["uid"])
        with open(self.jobdir / "stdout", "ab") as out, open(self.jobdir / "stderr", "ab") as err:
            try:
                if read_only or hide:
                    isolate(read_only, hide, expose, network)
                elif network:
                    cut_off()
                if self.uid is not None:
                    no_new_privileges()
            except OSError as e:
                err.write(f"kiln: cannot {_promised(read_only, hide, network)}, so it was not started: {e}\n".encode())
                return NOT_ISOLATED_EXIT_CODE
            try:
                self.child = subprocess.Popen(
                    command,
                    cwd=str(spec["workdir"]),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    process_group=0,
                    user=self.uid,  # None: as we run
                    group=self.uid,
                    extra_groups=None if self.uid is None else [],
                )
            except OSError as e:
                err.write(f"kiln: cannot start {command[0]!r}: {e}\n".encode())
                return 127 if isinstance(e, FileNotFoundError) else 126
        return None


def _promised(read_only: list[str], hide: list[str], network: bool) -> str:
    """What the job was promised, in words, for the line saying it could not have it."""
    parts = ["make the job's datasets read-only"] if read_only else []
    parts += ["hide the node's folders from the job"] if hide else []
    parts += ["cut the job off the network"] if network else []
    return " and ".join(parts) or "isolate the job"


def main(argv: list[str]) -> int:
    jobdir = Path(argv[1])
    if len(argv) > 2:
        os.set_inheritable(int(argv[2]), False)  # the lock is ours alone, not the job's
    supervisor = Supervisor(jobdir)
    signal.signal(signal.SIGTERM, supervisor.on_term)
    code = supervisor.run()
    write_exit(jobdir, code, "cancelled" if supervisor.cancelled else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
