"""The changes `kiln node add` and `kiln node uninstall` make on a host, each safe to repeat: the service
user, the folders, the venv with the Kiln wheel, the agent's settings file, and its service (a systemd unit,
or Kiln's supervisor where systemd is not running)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiln.core import clock
from kiln.core.errors import InvalidArgument
from kiln.installers.service import Layout, agent_unit, supervisor_start, supervisor_stop
from kiln.installers.ssh import Remote

q = shlex.quote


@dataclass(frozen=True)
class AgentSettings:
    """What goes into the agent's environment file (its whole configuration)."""

    coordinator: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    runtimes: tuple[str, ...] = ()
    serve_host: str = ""  # where its model replicas listen: the address the node was reached at

    def args(self) -> str:
        words = ["--name", self.name]
        if self.serve_host:
            words += ["--serve-host", self.serve_host]
        if self.labels:
            words += ["--labels", ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))]
        for runtime in self.runtimes:
            words += ["--runtime", runtime]
        for word in words:  # the file is split on whitespace, with no quoting
            if not word or any(c.isspace() or c in "'\"$\\`" for c in word):
                raise InvalidArgument(f"{word!r} cannot go into the agent's settings (spaces, quotes or $)")
        return " ".join(words)

    def env_file(self, join_token: str = "") -> bytes:
        lines = [
            "# Kiln agent settings, written by `kiln node add`. Root only: it may hold a join token.",
            f"KILN_COORDINATOR={self.coordinator}",
            f"KILN_AGENT_ARGS={self.args()}",
        ]
        if join_token:  # needed for the first start only; removed once the node has enrolled
            lines.append(f"KILN_JOIN_TOKEN={join_token}")
        return ("\n".join(lines) + "\n").encode()


def prepare(remote: Remote, layout: Layout, user: str, runtimes: tuple[str, ...], previous_user: str = "") -> None:
    """The service user (a system account) and the folders, with their owners and modes (an agent moved
    to another service user takes its data with it)."""
    group = f'"$(id -gn {q(user)})"'
    remote.run(
        f"id -u {q(user)} >/dev/null 2>&1 || useradd --system --home-dir {q(layout.data)} "
        f"--no-create-home --shell /usr/sbin/nologin {q(user)}"
    )
    if "docker" in runtimes and user != "root":
        remote.run(f"usermod -aG docker {q(user)}")  # the docker runtime talks to the engine's socket
    remote.run(
        f"install -d -m 0755 -o root -g root {q(layout.prefix)} {q(layout.prefix)}/run && "
        f"install -d -m 0700 -o {q(user)} -g {group} {q(layout.data)} && "
        f"install -d -m 0750 -o {q(user)} -g {group} {q(layout.prefix)}/log"
    )
    if previous_user and previous_user != user:
        remote.run(f"chown -R {q(user)}:{group} {q(layout.data)} {q(layout.prefix)}/log")


def install_wheel(remote: Remote, layout: Layout, python: str, wheel: str, index_url: str = "") -> None:
    """Creates the venv once, then installs the wheel with its dependencies (from the registry the host
    reaches) and reinstalls Kiln itself, so a rebuilt wheel of the same version replaces the old code."""
    pip = f"{q(layout.python)} -m pip --disable-pip-version-check install --quiet"
    if index_url:
        pip += f" --index-url {q(index_url)}"
    remote.run(f"test -x {q(layout.python)} || {q(python)} -m venv {q(layout.venv)}")
    remote.run(f"{pip} {q(wheel + '[agent]')}")
    remote.run(f"{pip} --no-deps --force-reinstall {q(wheel)}")


def write_settings(
    remote: Remote, layout: Layout, settings: AgentSettings, token: str, record: Mapping[str, object]
) -> None:
    remote.write(layout.env_file, settings.env_file(token), 0o600)
    full = {**record, "name": settings.name, "coordinator": settings.coordinator, "written_at": clock.now()}
    remote.write(layout.record, json.dumps(full, indent=2).encode() + b"\n", 0o644)


def start(remote: Remote, layout: Layout, systemd: bool, user: str) -> None:
    if systemd:
        remote.write(layout.unit_path, agent_unit(layout, user).encode(), 0o644)
        remote.run(
            f"systemctl daemon-reload && systemctl enable {q(layout.service)} && systemctl restart {q(layout.service)}"
        )
    else:
        remote.run(supervisor_start(layout, user))


def stop(remote: Remote, layout: Layout, systemd: bool) -> None:
    """Stops the agent if it runs (jobs of the process runtime keep running; docker ones too)."""
    if systemd:
        remote.run(f"systemctl stop {q(layout.service)} 2>/dev/null || true")
    else:
        remote.run(f"test -x {q(layout.python)} && {supervisor_stop(layout)} || true")


def is_running(remote: Remote, layout: Layout, systemd: bool) -> bool:
    if systemd:
        return remote.run(f"systemctl is-active --quiet {q(layout.service)}", check=False).code == 0
    status = f"{q(layout.python)} -m kiln.installers.supervisor status --pid-file {q(layout.pid_file)}"
    return remote.run(status, check=False).code == 0


def log_tail(remote: Remote, layout: Layout, systemd: bool, lines: int = 15) -> str:
    """The agent's last words, to show when it does not come up."""
    if systemd:
        command = f"journalctl -u {q(layout.service)} -n {lines} --no-pager -o cat"
    else:
        command = f"tail -n {lines} {q(layout.log_file)}"
    return remote.run(command, check=False).out.strip()


# Run with the node's own Kiln: its runtimes find their jobs (process-runtime job folders; containers by
# run label), cancel them (SIGTERM, grace, SIGKILL) and clean up, exactly as the agent would.
_STOP_JOBS = """
import sys
from pathlib import Path
from kiln.agent.runtimes.process import ProcessRuntime
data, runs = Path(sys.argv[1]), set(sys.argv[2:])
process = ProcessRuntime(data / "runtimes" / "process")
for job in process.running():
    process.cancel(job, 10)
    process.reap(job)
if runs:
    try:
        from kiln.agent.runtimes.docker import DockerRuntime
        docker = DockerRuntime(data / "runtimes" / "docker")
        for job in [j for j in docker.running() if j.run_id in runs]:
            docker.cancel(job, 10)
            docker.reap(job)
    except Exception as e:
        print(f"containers not stopped: {e}", file=sys.stderr)
"""


def stop_jobs(remote: Remote, layout: Layout, run_ids: Iterable[str]) -> None:
    """Stops what the agent left running (after `--force`: runs that did not finish draining)."""
    ids = " ".join(q(r) for r in run_ids)
    remote.run(f"test ! -x {q(layout.python)} || {q(layout.python)} -c {q(_STOP_JOBS)} {q(layout.data)} {ids}")


def remove(remote: Remote, layout: Layout, systemd: bool) -> None:
    """Stops and removes the service and everything under the prefix (the service user stays, as
    package removals leave system users). Only a prefix holding a Kiln install record is removed."""
    stop(remote, layout, systemd)
    if systemd:
        remote.run(
            f"systemctl disable {q(layout.service)} 2>/dev/null; rm -f {q(layout.unit_path)}; systemctl daemon-reload"
        )
    remote.run(f"test -f {q(layout.record)} && rm -rf --one-file-system {q(layout.prefix)}")


SYSTEM_FOLDERS = {"/", "/opt", "/usr", "/usr/local", "/var", "/var/lib", "/etc", "/home", "/root", "/tmp", "/srv"}


def check_prefix(prefix: str) -> str:
    """An absolute folder of Kiln's own, not a system one: uninstall removes it whole."""
    parts = prefix.split("/")
    clean = "/" + "/".join(p for p in parts if p)
    if not prefix.startswith("/") or ".." in parts or clean in SYSTEM_FOLDERS:
        raise InvalidArgument(f"--prefix {prefix!r} must be an absolute folder of its own, e.g. /opt/kiln")
    if any(c.isspace() or c in "'\"$\\`" for c in clean):
        raise InvalidArgument(f"--prefix {prefix!r} may not hold spaces, quotes or $")
    return clean
