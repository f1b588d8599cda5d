"""`kiln doctor`: checks a workstation, a node or a coordinator host and says, for each problem, what to do.

Each check is a small function returning findings; a check that cannot run (an optional part missing)
says so instead of failing the others. Nothing here changes anything.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import kiln
from kiln.core import clock
from kiln.core.errors import KilnError
from kiln.core.units import format_bytes

MIN_PYTHON = (3, 11)
LOW_DISK = 5 * 1024**3
FULL_DISK = 1024**3
CERT_WARN_S = 30 * 86400
DEFAULT_AGENT_PREFIX = Path("/opt/kiln")
MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "info": "·"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail, info
    finding: str
    fix: str = ""

    @property
    def mark(self) -> str:
        return MARKS[self.status]


def run_checks(coordinator_data: Path | None, agent_data: Path | None) -> list[Check]:
    """Every check that applies here: the workstation always, plus a coordinator's or an agent's folder
    (an agent installed by `kiln node add` under /opt/kiln is found without asking)."""
    if agent_data is None and (DEFAULT_AGENT_PREFIX / "install.json").exists():
        agent_data = DEFAULT_AGENT_PREFIX / "data"
    checks: list[Callable[[], Iterable[Check]]] = [python, keyring_backend, sign_in, docker, gpus]
    if coordinator_data is not None:
        checks.append(lambda: coordinator_folder(coordinator_data))
    if agent_data is not None:
        checks.append(lambda: agent_folder(agent_data))
    found: list[Check] = []
    for check in checks:
        try:
            found.extend(check())
        except Exception as e:  # a broken check must not hide the others
            found.append(Check(getattr(check, "__name__", "check"), "fail", f"the check itself failed: {e}"))
    return found


def python() -> Iterable[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        yield Check("python", "fail", f"Python {version}", "Kiln needs Python 3.11 or newer")
    else:
        yield Check("python", "ok", f"Python {version}, Kiln {kiln.__version__} ({sys.prefix})")


def keyring_backend() -> Iterable[Check]:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        yield Check(
            "keyring",
            "warn",
            "no system keyring: sign-in tokens are kept in a 0600 file",
            "install a keyring backend (e.g. gnome-keyring, or keyrings.alt) to keep tokens out of files",
        )
    else:
        yield Check("keyring", "ok", type(backend).__name__)


def sign_in() -> Iterable[Check]:
    from kiln.client import Client
    from kiln.config import load_profile, load_token
    from kiln.pinning import presented_ca

    try:
        profile = load_profile()
    except KilnError:
        yield Check("sign-in", "info", "not signed in to a coordinator", "kiln login HOST:PORT (if you use one)")
        return
    try:
        ca = presented_ca(profile.server, timeout=5)
    except KilnError as e:
        yield Check("coordinator", "fail", str(e), "is the coordinator running, and is the address right?")
        return
    if ca.fingerprint != profile.fingerprint:
        yield Check(
            "coordinator",
            "fail",
            f"{profile.server} presents CA {ca.fingerprint}, not the pinned {profile.fingerprint}",
            "if the coordinator was reinstalled, kiln login again; otherwise stop",
        )
        return
    yield Check("coordinator", "ok", f"{profile.server}, CA {ca.fingerprint[:19]}…")
    try:
        with Client(profile.server, profile.ca_pem.encode(), load_token(profile), timeout=10) as c:
            user, _ = c.whoami()
        yield Check("sign-in", "ok", f"signed in as {user.name}" + (" (admin)" if user.is_admin else ""))
    except KilnError as e:
        yield Check("sign-in", "fail", str(e), f"kiln login {profile.server} --user {profile.user}")


def docker() -> Iterable[Check]:
    try:
        from kiln.agent.runtimes.base import RuntimeUnavailable
        from kiln.agent.runtimes.docker import DockerRuntime
    except ImportError:
        yield Check("docker", "info", "the agent's packages are not installed here", "pip install 'kiln[agent]'")
        return
    try:
        yield Check("docker", "ok", DockerRuntime.probe())
    except RuntimeUnavailable as e:
        yield Check("docker", "warn", f"no Docker engine: {e}", "runs use the process runtime here, or start Docker")


def gpus() -> Iterable[Check]:
    smi = shutil.which("nvidia-smi")
    try:
        from kiln.agent.inventory import nvml_gpus
    except ImportError:
        return
    found, driver, cuda = nvml_gpus()
    if found:
        models = ", ".join(sorted({g.model for g in found}))
        yield Check("gpus", "ok", f"{len(found)} GPU(s): {models}; driver {driver}, CUDA {cuda}")
        yield from _docker_nvidia()
    elif smi:
        yield Check("gpus", "fail", "nvidia-smi exists but NVML reads no GPU", "check the driver: nvidia-smi")
    else:
        yield Check("gpus", "info", "no NVIDIA GPU here")


def _docker_nvidia() -> Iterable[Check]:
    if not shutil.which("docker"):
        return
    done = subprocess.run(
        ["docker", "info", "--format", "{{json .Runtimes}}"], capture_output=True, text=True, timeout=20
    )
    if done.returncode == 0 and "nvidia" not in done.stdout:
        yield Check(
            "docker gpus",
            "fail",
            "Docker has no nvidia runtime: containers cannot use the GPUs",
            "install nvidia-container-toolkit; nvidia-ctk runtime configure --runtime=docker; restart Docker",
        )


def disk(name: str, folder: Path) -> Check:
    free = shutil.disk_usage(folder).free
    if free < FULL_DISK:
        return Check(name, "fail", f"only {format_bytes(free)} free at {folder}", "free some space")
    if free < LOW_DISK:
        return Check(name, "warn", f"{format_bytes(free)} free at {folder}", "free some space soon")
    return Check(name, "ok", f"{format_bytes(free)} free at {folder}")


def coordinator_folder(data: Path) -> Iterable[Check]:
    from kiln.coordinator.store.migrations import MIGRATIONS

    db = data / "kiln.db"
    if not db.is_file():
        yield Check("coordinator data", "fail", f"no kiln.db in {data}", "check --coordinator-data")
        return
    yield disk("coordinator disk", data)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        healthy = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        has_quarantine = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'quarantine'").fetchone()
        set_aside = conn.execute(QUARANTINED).fetchall() if has_quarantine else []
    finally:
        conn.close()
    version, known = (int(row[0]) if row else 0), len(MIGRATIONS)
    if version > known:
        yield Check("schema", "fail", f"schema {version}, newer than this Kiln knows ({known})", "upgrade Kiln")
    elif version < known:
        yield Check("schema", "info", f"schema {version}; the coordinator migrates it to {known} when it starts")
    else:
        yield Check("schema", "ok", f"schema {version}")
    if not healthy:
        yield Check("database", "fail", "SQLite's quick_check finds damage", "restore the last backup")
    yield from _private(data, sorted((data / "pki").glob("*.key")))
    yield _quarantine(set_aside)


QUARANTINED = "SELECT node, count(*) FROM quarantine GROUP BY node ORDER BY node"


def _quarantine(set_aside: list[tuple[str, int]]) -> Check:
    """Reports from agents the coordinator could not apply, kept aside so their links went on."""
    if not set_aside:
        return Check("agent reports", "ok", "every report from the nodes was applied")
    nodes = ", ".join(f"{node} ({n})" for node, n in set_aside)
    return Check(
        "agent reports",
        "warn",
        f"reports the coordinator could not apply were set aside: {nodes}",
        "read them with kiln node quarantine NODE (often an agent newer than the coordinator: upgrade it)",
    )


def _private(data: Path, keys: list[Path]) -> Iterable[Check]:
    loose = sorted({str(k) for k in keys if k.exists() and stat.S_IMODE(k.stat().st_mode) & 0o077})
    if stat.S_IMODE(data.stat().st_mode) & 0o077:
        loose.insert(0, str(data))
    if loose:
        yield Check("permissions", "fail", f"readable by others: {', '.join(loose)}", f"chmod go-rwx {' '.join(loose)}")
    else:
        yield Check("permissions", "ok", "keys and the data folder are private")


def agent_folder(data: Path) -> Iterable[Check]:
    from cryptography import x509

    identity = data / "identity"
    if not (identity / "node.json").exists():
        yield Check(
            "agent identity", "fail", f"{data} holds no node identity", "kiln node add (or kiln agent --join-token)"
        )
        return
    meta = json.loads((identity / "node.json").read_text())
    cert = x509.load_pem_x509_certificate((identity / "cert.pem").read_bytes())
    left = cert.not_valid_after_utc.timestamp() - clock.now()
    status = "fail" if left <= 0 else "warn" if left < CERT_WARN_S else "ok"
    yield Check(
        "agent identity",
        status,
        f"node {meta['name']} of {meta['coordinator']}, certificate valid until "
        f"{clock.iso(cert.not_valid_after_utc.timestamp())}",
        "" if status == "ok" else "re-enrol the node",
    )
    yield disk("agent disk", data)
    yield from _private(data, [identity / "key.pem"])
    yield from _service(data.parent)


def _service(prefix: Path) -> Iterable[Check]:
    """The agent's service, for an install made by `kiln node add`."""
    record = prefix / "install.json"
    if not record.exists():
        return
    from kiln.installers.service import Layout
    from kiln.installers.supervisor import running_pid

    installed = json.loads(record.read_text())
    layout = Layout(str(prefix))
    if installed.get("service") == "systemd":
        up = subprocess.run(["systemctl", "is-active", "--quiet", layout.service], timeout=20).returncode == 0
        how = f"systemd unit {layout.service}"
    else:
        up = bool(running_pid(Path(layout.pid_file)))
        how = f"supervised (pid file {layout.pid_file})"
    if up:
        yield Check("agent service", "ok", f"running: {how}")
    else:
        yield Check(
            "agent service",
            "fail",
            f"not running: {how}",
            f"kiln node add again from a workstation, or see {layout.log_file}",
        )
    if os.access(layout.env_file, os.R_OK) and "KILN_JOIN_TOKEN=" in Path(layout.env_file).read_text():
        yield Check(
            "join token", "warn", f"a join token is still in {layout.env_file}", "kiln node add again (it removes it)"
        )
