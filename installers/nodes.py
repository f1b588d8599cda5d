"""`kiln node add` and `kiln node uninstall`: the host work over SSH, tied to the coordinator (a join token
going in, the node showing up as ready; draining before removal, and forgetting the node after it).

Adding is idempotent: on a host that already runs a Kiln agent it upgrades in place, keeping the node's
identity (no new join token), so running it again is how nodes are upgraded.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiln.client import Client
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kiln.core.models import Node
from kiln.core.names import check_name
from kiln.core.netaddr import split_address
from kiln.installers import remote as host
from kiln.installers.checks import HostFacts, installed, probe
from kiln.installers.service import DEFAULT_PREFIX, DEFAULT_USER, Layout
from kiln.installers.ssh import Remote, Target
from kiln.installers.supervisor import NOTE as SUPERVISOR_NOTE

Say = Callable[[str], None]
POLL_S = 0.5
JOIN_TOKEN_TTL_S = 3600.0


@dataclass(frozen=True)
class NodeRequest:
    target: Target
    coordinator: str  # HOST:PORT of the coordinator as the node reaches it
    prefix: str = DEFAULT_PREFIX
    name: str = ""  # "": the host's name
    labels: dict[str, str] = field(default_factory=dict)
    runtimes: tuple[str, ...] = ()  # (): every runtime that works on the node
    gpus: bool = False
    user: str = DEFAULT_USER
    python: str = "python3"
    min_disk_bytes: int = 2 * 1024**3
    index_url: str = ""
    wait_s: float = 300.0


def add_node(remote: Remote, client: Client, req: NodeRequest, wheel: Path, say: Say) -> Node:
    """Installs (or upgrades) the agent on the host and returns the node once the coordinator sees it."""
    layout = Layout(host.check_prefix(req.prefix))
    check_reachable_address(req.coordinator, remote.target.host)
    say(f"checking {remote.target.host}")
    facts = probe(remote, layout, req.python, req.user, req.runtimes, req.gpus, req.min_disk_bytes)
    name = _name(req, facts)
    # replicas on the node listen at the address it was reached at, which the coordinator's gateway can dial
    settings = host.AgentSettings(req.coordinator, name, req.labels, req.runtimes, remote.target.host)
    settings.args()  # refuses what cannot go into the settings file before anything changes
    known = _check_coordinator_side(client, name, facts, remote.target)
    systemd = facts.systemd
    say(f"{'upgrading' if facts.enrolled_as else 'installing'} Kiln on {remote.target.host} ({layout.prefix})")
    staged = remote.upload(wheel)
    host.prepare(remote, layout, req.user, req.runtimes, str((facts.record or {}).get("user", req.user)))
    host.install_wheel(remote, layout, req.python, staged, req.index_url)
    token = "" if facts.enrolled_as else client.create_join_token(1, JOIN_TOKEN_TTL_S).token
    for kind in {systemd, (facts.record or {}).get("service", "") == "systemd"}:  # what runs, however started
        host.stop(remote, layout, kind)
    if name in known:
        _wait(lambda: _state(client, name) != "ready", 30, lambda: None)  # the old agent's stream ends
    record = {
        "version": wheel.name.split("-")[1],
        "service": "systemd" if systemd else "supervised",
        "user": req.user,
        "labels": req.labels,
        "runtimes": list(req.runtimes),
    }
    host.write_settings(remote, layout, settings, token, record)
    marker = _log_size(remote, layout, systemd)
    say(f"starting the agent ({'systemd unit ' + layout.service if systemd else 'supervised, no systemd'})")
    host.start(remote, layout, systemd, req.user)
    node = _wait_ready(remote, client, layout, systemd, name, req.wait_s, marker)
    if token:  # it was for one use, and has been used: it does not stay on the host
        host.write_settings(remote, layout, settings, "", record)
    return node


def _check_coordinator_side(client: Client, name: str, facts: HostFacts, target: Target) -> set[str]:
    """The names the coordinator knows, after checking that they agree with what the host holds."""
    known = {n.name for n in client.list_nodes()}
    if facts.enrolled_as and name not in known:
        raise FailedPrecondition(
            f"{target.host} holds the identity of node {name!r}, which the coordinator no longer "
            f"knows (removed?): uninstall it first (kiln node uninstall {target})"
        )
    if not facts.enrolled_as and name in known:
        raise AlreadyExists(
            f"the coordinator already has a node named {name!r}: pick another --name, or forget the old "
            f"one first (kiln node remove {name})"
        )
    return known


def check_reachable_address(coordinator: str, target_host: str) -> None:
    """A loopback coordinator address only works for an agent on the same machine."""
    host = split_address(coordinator)[0]
    if _loopback(host) and not _loopback(target_host):
        raise InvalidArgument(
            f"the node would dial {coordinator}, which is the node itself: pass --coordinator HOST:PORT "
            "with the coordinator's address as the node reaches it"
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _name(req: NodeRequest, facts: HostFacts) -> str:
    if facts.enrolled_as and req.name and req.name != facts.enrolled_as:
        raise FailedPrecondition(
            f"this host is node {facts.enrolled_as!r}; to rename it, uninstall it and add it again"
        )
    name = facts.enrolled_as or req.name or facts.hostname
    check_name("node", name)
    return name


def _state(client: Client, name: str) -> str:
    return next((n.state for n in client.list_nodes() if n.name == name), "")


def _wait(condition: Callable[[], object], timeout: float, on_timeout: Callable[[], None]) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            on_timeout()
            return False
        time.sleep(POLL_S)
    return True


def _log_size(remote: Remote, layout: Layout, systemd: bool) -> int:
    if systemd:
        return 0
    out = remote.run(f"stat -c %s {host.q(layout.log_file)} 2>/dev/null || echo 0", check=False).out
    return int(out.strip() or 0)


def _agent_failed(remote: Remote, layout: Layout, systemd: bool, marker: int) -> bool:
    """Whether the agent has exited since it was started (it is being restarted: something is wrong)."""
    if systemd:
        out = remote.run(f"systemctl show -p NRestarts --value {host.q(layout.service)}", check=False).out
        return out.strip() not in ("", "0")
    log = f"tail -c +{marker + 1} {host.q(layout.log_file)} 2>/dev/null"
    return SUPERVISOR_NOTE in remote.run(log, check=False).out


def _wait_ready(
    remote: Remote, client: Client, layout: Layout, systemd: bool, name: str, timeout: float, marker: int
) -> Node:
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 2
    while True:
        node = next((n for n in client.list_nodes() if n.name == name and n.state == "ready"), None)
        if node is not None:
            return node
        failed = False
        if time.monotonic() >= next_check:
            failed = _agent_failed(remote, layout, systemd, marker)
            next_check = time.monotonic() + 2
        if failed or time.monotonic() > deadline:
            why = "keeps exiting" if failed else f"did not show up within {timeout:g}s"
            raise FailedPrecondition(
                f"the agent on {remote.target.host} {why}; its log:\n{host.log_tail(remote, layout, systemd)}"
            )
        time.sleep(POLL_S)


def uninstall_node(remote: Remote, client: Client, prefix: str, drain_timeout: float, force: bool, say: Say) -> str:
    """Drains the node, waits for its runs (or not, with `force`), stops and removes the agent from the
    host, then removes the node on the coordinator. Returns the node's name."""
    layout = Layout(host.check_prefix(prefix))
    name, systemd = probe_record(remote, layout)
    known = {n.name: n for n in client.list_nodes()}
    if name in known:
        say(f"draining {name}")
        client.set_drain(name, True)
        if not force:
            _wait(
                lambda: not next((n.runs for n in client.list_nodes() if n.name == name), ()),
                drain_timeout,
                lambda: _still_busy(client, name, drain_timeout),
            )
    say(f"stopping and removing the agent on {remote.target.host} ({layout.prefix})")
    host.stop(remote, layout, systemd)
    host.stop_jobs(remote, layout, next((n.runs for n in client.list_nodes() if n.name == name), ()))
    host.remove(remote, layout, systemd)
    if name in known:
        client.remove_node(name)
    return name


def _still_busy(client: Client, name: str, waited: float) -> None:
    runs = next((n.runs for n in client.list_nodes() if n.name == name), ())
    raise FailedPrecondition(
        f"{name} is drained but still runs {len(runs)} run(s) after {waited:g}s ({', '.join(runs)}): "
        "wait for them, cancel them, or pass --force (they will be lost)"
    )


def probe_record(remote: Remote, layout: Layout) -> tuple[str, bool]:
    """(node name, installed with systemd) of the Kiln agent under the prefix."""
    record, enrolled = installed(remote, layout)
    if record is None:
        raise NotFound(f"no Kiln agent is installed under {layout.prefix} on {remote.target.host}")
    return enrolled or str(record.get("name", "")), record.get("service") == "systemd"
