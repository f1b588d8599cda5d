"""Kiln's own service supervisor, for nodes where systemd is not running (containers, minimal hosts).

`python -m kiln.installers.supervisor start --pid-file F --log L --env-file E --user U -- CMD…` detaches
(double fork, new session), writes its pid file, reads the environment file as root, drops to the service
user, and runs CMD, restarting it with backoff when it fails (as systemd's Restart=on-failure would). Its
output goes to L, rotated when it grows. `stop` sends SIGTERM and waits for the supervisor to end; the
supervisor passes the signal on and gives the command a grace period before SIGKILL.

Only the standard library and kiln.core: this runs in the node's venv, where paramiko is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kiln.core import backoff
from kiln.core.atomic import atomic_write

MARKER = "kiln.installers.supervisor"
NOTE = "[kiln supervisor]"  # starts the supervisor's own lines in the log
LOG_LIMIT_BYTES = 20 * 1024 * 1024
CHECK_S = 5.0
STOP_GRACE_S = 30.0
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (comments, optional quotes)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def expand(argv: Sequence[str], env: dict[str, str]) -> list[str]:
    """systemd's ExecStart expansion: `${VAR}` inside a word, `$VAR` as a whole word split on spaces."""
    out: list[str] = []
    for word in argv:
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            out += env.get(word[1:], "").split()
        else:
            out.append(_VAR.sub(lambda m: env.get(m.group(1), ""), word))
    return out


def running_pid(pid_file: Path) -> int:
    """The pid of the supervisor the file names, if it is still running (0 otherwise)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return 0
    return pid if MARKER.encode() in cmdline else 0


def start(args: argparse.Namespace) -> int:
    pid_file = Path(args.pid_file)
    if running_pid(pid_file):
        print(f"already running (pid {running_pid(pid_file)}); stop it first", file=sys.stderr)
        return 1
    read, write = os.pipe()
    if os.fork():  # the caller: wait for the daemon to say it runs
        os.close(write)
        with os.fdopen(read) as f:
            said = f.read().strip()
        if said != "ok":
            print(said or "the supervisor failed to start", file=sys.stderr)
            return 1
        return 0
    os.close(read)
    os.setsid()
    if os.fork():
        os._exit(0)
    try:
        child_env = _prepare(args, pid_file)
    except Exception as e:
        os.write(write, f"cannot start: {e}".encode())
        os._exit(1)
    os.write(write, b"ok")
    os.close(write)
    supervisor = Supervisor(args.command, child_env, Path(args.log))
    try:
        code = supervisor.run(pid_file)
    except BaseException as e:  # the supervisor's own failure: its stderr is /dev/null, so into the log
        supervisor.note(f"supervisor failed: {e!r}")
        code = 1
    os._exit(code)


def _prepare(args: argparse.Namespace, pid_file: Path) -> dict[str, str]:
    """Detaches from the caller's terminal and files, records the pid, reads the environment file (as
    root, so it may stay root-only), and becomes the service user."""
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.chdir("/")
    atomic_write(pid_file, f"{os.getpid()}\n".encode(), 0o644)
    user = pwd.getpwnam(args.user)
    env = {
        "PATH": CLEAN_PATH,
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "LANG": "C.UTF-8",
        **read_env_file(Path(args.env_file)),
    }
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.fchown(fd, user.pw_uid, user.pw_gid)
    os.close(fd)
    if os.getuid() == 0 and user.pw_uid != 0:
        os.initgroups(user.pw_name, user.pw_gid)
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    return env


class Supervisor:
    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None

    def _on_term(self, *_: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run(self, pid_file: Path) -> int:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        delays = backoff.delays(first=1.0, cap=60.0)
        try:
            while not self.stopping:
                started = time.monotonic()
                code = self._run_once()
                if self.stopping or code == 0:
                    return 0
                if time.monotonic() - started > 60:
                    delays = backoff.delays(first=1.0, cap=60.0)  # it ran a while: start the backoff over
                self.note(f"exited with {code}; restarting")
                _pause(next(delays), lambda: self.stopping)
            return 0
        finally:
            with contextlib.suppress(OSError):
                if running_pid(pid_file) == os.getpid():
                    pid_file.unlink()

    def _run_once(self) -> int:
        try:
            with open(self.log, "ab") as out:
                self.child = subprocess.Popen(
                    expand(self.command, self.env), env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
                )
        except OSError as e:  # cannot even start it (missing, not executable): said in the log, tried again
            self.note(f"could not be started: {e}")
            return 127
        deadline = 0.0
        while True:
            try:
                return self.child.wait(timeout=CHECK_S)
            except subprocess.TimeoutExpired:
                self._rotate()
                if self.stopping:
                    deadline = deadline or time.monotonic() + STOP_GRACE_S
                    if time.monotonic() > deadline:
                        self.child.kill()

    def _rotate(self) -> None:
        """copytruncate: the child keeps its O_APPEND descriptor and writes at the new end."""
        with contextlib.suppress(OSError):
            if self.log.stat().st_size > LOG_LIMIT_BYTES:
                old = self.log.with_name(self.log.name + ".1")
                old.write_bytes(self.log.read_bytes())
                os.truncate(self.log, 0)

    def note(self, message: str) -> None:
        with contextlib.suppress(OSError), open(self.log, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {NOTE} {self.command[0]} {message}\n")


def _pause(seconds: float, stop: object) -> None:
    """Waits before a restart, waking early for SIGTERM (the handler interrupts the sleep)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop():  # type: ignore[operator]
        time.sleep(min(0.5, end - time.monotonic()))


def stop(args: argparse.Namespace) -> int:
    pid_file = Path(args.pid_file)
    pid = running_pid(pid_file)
    if not pid:
        pid_file.unlink(missing_ok=True)
        return 0
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGTERM)
        if not select.select([fd], [], [], STOP_GRACE_S + 15)[0]:
            os.kill(pid, signal.SIGKILL)
            select.select([fd], [], [], 15)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)
    pid_file.unlink(missing_ok=True)
    return 0


def status(args: argparse.Namespace) -> int:
    pid = running_pid(Path(args.pid_file))
    print(f"running (pid {pid})" if pid else "stopped")
    return 0 if pid else 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiln.installers.supervisor")
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("start")
    p.add_argument("--pid-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--env-file", required=True)
    p.add_argument("--user", default="root")
    p.add_argument("command", nargs="+")
    for name in ("stop", "status"):
        sub.add_parser(name).add_argument("--pid-file", required=True)
    args = parser.parse_args(argv)
    return {"start": start, "stop": stop, "status": status}[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
