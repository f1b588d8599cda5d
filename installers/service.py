"""How Kiln runs as a service: systemd units for the coordinator and the agent, and, where systemd is not
running, the same agent command under Kiln's own supervisor (`kiln.installers.supervisor`, a pid file).

The units are rendered here, and `installers/systemd/*.service` are these renders with the default prefix,
checked in for people who install by hand; a test keeps the two the same.

Both ways start the agent from one command line that reads its settings from the environment file
(`${KILN_COORDINATOR}`, `$KILN_AGENT_ARGS`, `KILN_JOIN_TOKEN`), so the file is the agent's whole
configuration, and the join token sits only in it (mode 0600, root), never on a command line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

DEFAULT_PREFIX = "/opt/kiln"
DEFAULT_USER = "kiln"
AGENT_SERVICE = "kiln-agent"

# Options that hold for both units: a service may not gain privileges, sees the system read-only, no home
# folders, its own /tmp, and cannot touch the kernel's settings. Nothing that limits devices: the agent's
# jobs need the GPUs (ProtectClock and PrivateDevices would restrict /dev, so only the coordinator has them).
HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0027"""


# Open files allowed: every connection holds one. systemd's default soft limit (1,024) is reached by that
# many idle connections, after which no user signs in and no agent reconnects; the coordinator also closes
# connections that never finish their TLS handshake (coordinator/server.py).
OPEN_FILES = 65536


@dataclass(frozen=True)
class Layout:
    """Where an agent install lives on its node (everything under one prefix, so removal is one folder)."""

    prefix: str = DEFAULT_PREFIX
    service: str = AGENT_SERVICE

    @property
    def venv(self) -> str:
        return f"{self.prefix}/venv"

    @property
    def kiln(self) -> str:
        return f"{self.venv}/bin/kiln"

    @property
    def python(self) -> str:
        return f"{self.venv}/bin/python"

    @property
    def data(self) -> str:
        return f"{self.prefix}/data"

    @property
    def env_file(self) -> str:
        return f"{self.prefix}/agent.env"

    @property
    def record(self) -> str:
        return f"{self.prefix}/install.json"

    @property
    def pid_file(self) -> str:
        return f"{self.prefix}/run/{self.service}.pid"

    @property
    def log_file(self) -> str:
        return f"{self.prefix}/log/{self.service}.log"

    @property
    def unit_path(self) -> str:
        return f"/etc/systemd/system/{self.service}.service"


def agent_command(layout: Layout) -> list[str]:
    """The agent's command line, with the environment file's variables still to expand."""
    return [
        layout.kiln,
        "agent",
        "--coordinator",
        "${KILN_COORDINATOR}",
        "--data",
        layout.data,
        "$KILN_AGENT_ARGS",
    ]


def agent_unit(layout: Layout = Layout(), user: str = DEFAULT_USER) -> str:
    # KillMode=process: only the agent is stopped on a restart or an upgrade; jobs of the process runtime
    # run in their own sessions and are re-attached by the agent that comes back. /run/kiln (kept across
    # restarts) records the host's job users (agent/runtimes/jobuser.py), for an agent run as root.
    return f"""\
[Unit]
Description=Kiln agent (compute node)
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
User={user}
EnvironmentFile={layout.env_file}
ExecStart={" ".join(agent_command(layout))}
Restart=on-failure
RestartSec=5s
TimeoutStopSec=30s
KillMode=process
LimitNOFILE={OPEN_FILES}
ReadWritePaths={layout.data}
RuntimeDirectory=kiln
RuntimeDirectoryPreserve=yes
{HARDENING}

[Install]
WantedBy=multi-user.target
"""


def coordinator_unit(prefix: str = DEFAULT_PREFIX, user: str = DEFAULT_USER, listen: str = "0.0.0.0:7443") -> str:
    # The bootstrap admin's password is read once, on the first start, from a root-only file handed over
    # as a credential, so it never appears in the journal.
    return f"""\
[Unit]
Description=Kiln coordinator
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
StateDirectory=kiln
StateDirectoryMode=0700
LoadCredential=admin-password:/etc/kiln/admin-password
ExecStart={prefix}/venv/bin/kiln coordinator --data /var/lib/kiln --listen {listen} \
--admin-password-file ${{CREDENTIALS_DIRECTORY}}/admin-password
Restart=on-failure
RestartSec=5s
TimeoutStopSec=30s
LimitNOFILE={OPEN_FILES}
PrivateDevices=yes
ProtectClock=yes
CapabilityBoundingSet=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
{HARDENING}

[Install]
WantedBy=multi-user.target
"""


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}}; raises ValueError on a line systemd would not accept."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    lines = text.replace("\\\n", "").splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1], {})
            continue
        key, sep, value = stripped.partition("=")
        if current is None or not sep or not key.strip().isidentifier():
            raise ValueError(f"line {number} is not KEY=VALUE inside a [Section]: {line!r}")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# -- the supervised service (no systemd) ------------------------------------------------------------------


def supervisor_start(layout: Layout, user: str) -> str:
    """The shell command that starts the agent under Kiln's supervisor; it returns once the supervisor runs
    (its pid file is written) and fails if one is already running."""
    q = shlex.quote
    args = [
        layout.python,
        "-m",
        "kiln.installers.supervisor",
        "start",
        "--pid-file",
        layout.pid_file,
        "--log",
        layout.log_file,
        "--env-file",
        layout.env_file,
        "--user",
        user,
        "--",
        *agent_command(layout),
    ]
    return " ".join(q(a) for a in args)


def supervisor_stop(layout: Layout) -> str:
    q = shlex.quote
    return (
        f"if [ -f {q(layout.pid_file)} ]; then {q(layout.python)} -m kiln.installers.supervisor stop "
        f"--pid-file {q(layout.pid_file)}; fi"
    )
