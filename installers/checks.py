"""What a host has, looked at before anything is changed on it: Python ≥ 3.11 with venv, free disk,
systemd, a Docker engine and the NVIDIA runtime when asked for, and any Kiln already installed there.

Every problem found is reported at once, with what to do, so a person fixes a host in one round.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from kiln.core.errors import FailedPrecondition
from kiln.core.units import format_bytes
from kiln.installers.service import Layout
from kiln.installers.ssh import Remote

MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    python_version: str
    systemd: bool
    disk_free_bytes: int
    docker_version: str = ""
    record: dict[str, Any] | None = None  # install.json of a Kiln agent already there
    enrolled_as: str = ""  # the node name in its identity, when the agent there has enrolled


def probe(
    remote: Remote, layout: Layout, python: str, user: str, runtimes: tuple[str, ...], gpus: bool, min_disk: int
) -> HostFacts:
    """Looks at the host; raises FailedPrecondition naming every problem found."""
    problems: list[str] = []
    host = remote.target.host
    if remote.target.user != "root" and remote.run("sudo -n true", check=False, root=False).code != 0:
        raise FailedPrecondition(
            f"{remote.target.user} on {host} cannot run sudo without a password; "
            "log in as root or allow it passwordless sudo"
        )
    hostname = remote.run("hostname", check=False).out.strip().lower()
    version = _python(remote, python, problems)
    if version and not problems and user != "root":
        _reachable(remote, python, user, problems)
    free = _disk_free(remote, layout.prefix)
    if free < min_disk:
        problems.append(
            f"only {format_bytes(free)} free for {layout.prefix} (needs {format_bytes(min_disk)}): free "
            "some space or pick another --prefix"
        )
    systemd = remote.run("test -d /run/systemd/system", check=False).code == 0
    docker = _docker(remote, problems) if "docker" in runtimes or gpus else ""
    if gpus:
        _nvidia(remote, problems)
    record, enrolled = installed(remote, layout)
    if problems:
        listed = "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))
        raise FailedPrecondition(f"{host} is not ready for a Kiln agent, nothing was changed: {listed}")
    return HostFacts(hostname, version, systemd, free, docker, record, enrolled)


def _python(remote: Remote, python: str, problems: list[str]) -> str:
    q = shlex.quote(python)
    found = remote.run(
        f"command -v {q} >/dev/null 2>&1 || exit 127; {q} -c \"import sys; print('%d.%d.%d' % sys.version_info[:3])\"",
        check=False,
    )
    if found.code == 127:
        problems.append(f"no {python} on the host: install Python 3.11 or newer (or pass --python PATH)")
        return ""
    version = found.out.strip().splitlines()[-1] if found.out.strip() else ""
    try:
        parts = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        parts = ()
    if found.code != 0 or len(parts) != 2:
        problems.append(f"{python} on the host does not run ({(found.err or found.out).strip()[:200]})")
        return ""
    if parts < MIN_PYTHON:
        problems.append(
            f"{python} on the host is Python {version}; Kiln needs {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer: "
            "install it (e.g. apt-get install python3.11 python3.11-venv) and pass --python python3.11"
        )
        return version
    if remote.run(f"{q} -c 'import venv, ensurepip'", check=False).code != 0:
        problems.append(f"{python} on the host lacks venv/ensurepip: install python3-venv")
    return version


def _reachable(remote: Remote, python: str, user: str, problems: list[str]) -> None:
    """The venv links to the interpreter it was made from, so the service user must be able to reach it
    (a Python under /root, e.g. pyenv's, is not)."""
    script = (
        "import os, stat, sys\n"
        "d = os.path.realpath(sys.base_prefix)\n"
        "while d != '/':\n"
        "    if not os.stat(d).st_mode & stat.S_IXOTH:\n"
        "        print(d)\n"
        "    d = os.path.dirname(d)\n"
    )
    found = remote.run(f"{shlex.quote(python)} -c {shlex.quote(script)}", check=False)
    private = found.out.split()
    if private:
        problems.append(
            f"{python} is installed under {private[-1]}, which the service user {user} cannot enter: "
            "pass a system Python (e.g. --python /usr/bin/python3), or --service-user root"
        )


def _disk_free(remote: Remote, prefix: str) -> int:
    """Free bytes on the filesystem the prefix is (or will be) on."""
    out = remote.run(
        f'd={shlex.quote(prefix)}; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" | tail -n 1',
        check=False,
    ).out.split()
    try:
        return int(out[3]) * 1024
    except (IndexError, ValueError):
        return 0


def _docker(remote: Remote, problems: list[str]) -> str:
    found = remote.run("docker version --format '{{.Server.Version}}'", check=False)
    if found.code != 0:
        problems.append(
            "no Docker engine answers (docker version failed): install docker.io (or Docker CE) and "
            "start it, or use --runtime process"
        )
        return ""
    return found.out.strip()


def _nvidia(remote: Remote, problems: list[str]) -> None:
    if remote.run("nvidia-smi -L", check=False).code != 0:
        problems.append("--gpus was asked for, but nvidia-smi finds no GPU: install the NVIDIA driver")
    runtimes = remote.run("docker info --format '{{json .Runtimes}}'", check=False).out
    if "nvidia" not in runtimes:
        problems.append(
            "Docker has no nvidia runtime: install nvidia-container-toolkit and run "
            "nvidia-ctk runtime configure --runtime=docker, then restart Docker"
        )


def installed(remote: Remote, layout: Layout) -> tuple[dict[str, Any] | None, str]:
    """The install record under the prefix (None if there is none), and the node name the agent there
    enrolled as ("" if it has not)."""
    q = shlex.quote
    record = remote.run(f"cat {q(layout.record)} 2>/dev/null", check=False).out
    identity = remote.run(f"cat {q(layout.data)}/identity/node.json 2>/dev/null", check=False).out
    try:
        found = json.loads(record) if record.strip() else None
    except json.JSONDecodeError:
        found = None
    try:
        enrolled = str(json.loads(identity).get("name", "")) if identity.strip() else ""
    except json.JSONDecodeError:
        enrolled = ""
    return found, enrolled
