"""IT commands: `kiln node add|uninstall USER@HOST` (install over SSH), `kiln coordinator backup|restore`,
`kiln admin gc`, and `kiln doctor`.

`kiln node remove NAME` (kiln/cli/nodes.py) stays what it was: the coordinator forgets a node, with no SSH,
which also works for a host that is gone. `kiln node uninstall USER@HOST` is the host-side counterpart of
`add`: it drains the node, stops and removes the agent on the host, and then does what `remove` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiln.cli.common import add_json, command, group
from kiln.cli.output import emit_json, info, table
from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.units import format_bytes, parse_duration, parse_size


def register_coordinator_commands(sub: Any) -> None:
    """Sub-commands of `kiln coordinator`."""
    p = command(sub, "backup", "copy the data folder (database, keys, blobs) while it runs", backup)
    p.add_argument("dest", type=Path, help="a new or empty folder for the backup")
    _data(p)
    add_json(p)
    p = command(sub, "restore", "recreate a data folder from a backup (into a new or empty folder)", restore)
    p.add_argument("backup", type=Path, help="a folder made by kiln coordinator backup")
    _data(p)
    add_json(p)


def register_node_commands(sub: Any) -> None:
    """`kiln node add` and `kiln node uninstall`."""
    p = command(sub, "add", "install (or upgrade) the agent on a host over SSH and enrol it", node_add)
    _ssh(p)
    p.add_argument("--labels", default="", metavar="K=V,…", help="labels runs can ask for")
    p.add_argument("--runtime", action="append", default=[], choices=["docker", "process"])
    p.add_argument("--gpus", action="store_true", help="require the NVIDIA driver and Docker's nvidia runtime")
    p.add_argument("--name", default="", help="node name (default: the host's name)")
    p.add_argument("--coordinator", default="", metavar="HOST:PORT", help="as the node reaches it (default: yours)")
    p.add_argument("--service-user", default="kiln", help="account the agent runs as (created if missing)")
    p.add_argument("--python", default="python3", help="Python ≥ 3.11 on the host (default python3)")
    p.add_argument("--wheel", type=Path, default=None, help="install this Kiln wheel instead of building one")
    p.add_argument("--index-url", default="", help="package index the host installs dependencies from")
    p.add_argument("--min-disk", default="2G", help="free disk the host needs (default 2G)")
    p.add_argument("--wait", default="5m", help="how long to wait for the node to show up (default 5m)")
    add_json(p)
    p = command(sub, "uninstall", "drain the node, remove the agent from its host, forget the node", node_uninstall)
    _ssh(p)
    p.add_argument("--drain-timeout", default="10m", help="how long to wait for its runs (default 10m)")
    p.add_argument("--force", action="store_true", help="do not wait for runs (they are lost)")


def register(sub: Any) -> None:
    """Top-level: `kiln doctor` and `kiln admin gc`."""
    p = command(sub, "doctor", "check this workstation or node and say what is wrong", doctor)
    p.add_argument("--coordinator-data", type=Path, default=None, metavar="DIR", help="a coordinator's folder")
    p.add_argument("--agent-data", type=Path, default=None, metavar="DIR", help="an agent's folder")
    add_json(p)
    g = group(sub, "admin", "maintenance of a coordinator's data folder (run on its host)")
    p = command(g, "gc", "remove blobs no snapshot references (safe while the coordinator runs)", gc)
    _data(p)
    p.add_argument("--min-age", default="24h", help="keep blobs younger than this (default 24h)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    add_json(p)


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None, metavar="DIR", help="data folder (default $KILN_DATA)")


def _ssh(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="USER@HOST")
    p.add_argument("--port", type=int, default=22)
    p.add_argument("--key", type=Path, default=None, metavar="FILE", help="SSH private key (default: ssh-agent)")
    p.add_argument("--trust", default="", metavar="SHA256:…", help="accept this (shown) host key fingerprint")
    p.add_argument(
        "--known-hosts",
        type=Path,
        default=None,
        metavar="FILE",
        help="host keys to check against (default: ~/.ssh/known_hosts and $KILN_HOME/known_hosts, where --trust saves)",
    )
    p.add_argument("--prefix", default="/opt/kiln", help="where Kiln lives on the host (default /opt/kiln)")


def _duration(text: str, flag: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise InvalidArgument(f"{flag}: {e}") from None


def _data_dir(args: argparse.Namespace) -> Path:
    from kiln.cli.coordinator import coordinator_data, default_data_dir

    return coordinator_data((args.data or default_data_dir()).expanduser())


# -- coordinator backup / restore, admin gc -----------------------------------------------------------


def backup(args: argparse.Namespace) -> int:
    from kiln.coordinator.ops.backup import backup as run_backup

    found = run_backup(_data_dir(args), args.dest)
    if args.json:
        emit_json({"dest": str(args.dest), **found.__dict__})
    else:
        print(
            f"backed up to {args.dest}: schema {found.schema_version}, {found.blobs} blobs, {format_bytes(found.bytes)}"
        )
    return 0


def restore(args: argparse.Namespace) -> int:
    from kiln.cli.coordinator import default_data_dir
    from kiln.coordinator.ops.backup import restore as run_restore

    data = (args.data or default_data_dir()).expanduser()  # a new folder: never kiln up's existing one
    found = run_restore(args.backup, data)
    if args.json:
        emit_json({"data": str(data), **found.__dict__})
    else:
        print(
            f"restored {args.backup} into {data}: {found.blobs} blobs, {format_bytes(found.bytes)}; "
            f"start it with kiln coordinator --data {data}"
        )
    return 0


def gc(args: argparse.Namespace) -> int:
    from kiln.coordinator.ops.gc import collect_garbage

    report = collect_garbage(_data_dir(args), _duration(args.min_age, "--min-age"), args.dry_run)
    if args.json:
        emit_json(report.__dict__)
    else:
        verb = "would remove" if report.dry_run else "removed"
        print(
            f"{verb} {report.removed_blobs} blob(s), {format_bytes(report.removed_bytes)}; "
            f"{report.referenced} referenced blob(s) kept"
        )
    return 0


# -- node add / uninstall -----------------------------------------------------------------------------


def _need_paramiko() -> None:
    """Installing nodes needs the installers extra; say so in one line instead of a traceback."""
    try:
        import paramiko  # noqa: F401
    except ImportError as e:
        raise FailedPrecondition(f"installing nodes needs paramiko ({e}): pip install 'kiln[installers]'") from None


def _open(args: argparse.Namespace) -> Any:
    """The SSH session to the host named on the command line."""
    from kiln.config import kiln_home
    from kiln.installers.ssh import Target, connect

    target = Target.parse(args.target, args.port)
    known = args.known_hosts or kiln_home() / "known_hosts"
    return connect(target, args.key, known, args.trust, system_keys=args.known_hosts is None)


def node_add(args: argparse.Namespace) -> int:
    import tempfile

    _need_paramiko()
    from kiln.cli.nodes import parse_labels
    from kiln.cli.session import connect as coordinator
    from kiln.installers.nodes import NodeRequest, add_node, check_reachable_address
    from kiln.installers.ssh import Target
    from kiln.installers.wheel import build_wheel, check_wheel

    labels = parse_labels(args.labels)
    wait = _duration(args.wait, "--wait")
    try:
        min_disk = parse_size(args.min_disk)
    except ValueError as e:
        raise InvalidArgument(f"--min-disk: {e}") from None
    given = check_wheel(args.wheel) if args.wheel else None
    with coordinator() as client:
        address = args.coordinator or client.address
        check_reachable_address(address, Target.parse(args.target, args.port).host)
        with _open(args) as remote, tempfile.TemporaryDirectory() as tmp:
            runtimes = tuple(dict.fromkeys(args.runtime))
            request = NodeRequest(
                remote.target, address, args.prefix, args.name, labels, runtimes, args.gpus, args.service_user,
                args.python, min_disk, args.index_url, wait,
            )  # fmt: skip
            if given is None:
                info("building the Kiln wheel from this checkout")
            wheel = given or build_wheel(Path(tmp))
            node = add_node(remote, client, request, wheel, info)
    if args.json:
        emit_json({"name": node.name, "state": node.state, "runtimes": node.runtimes, "version": node.version})
    else:
        print(
            f"node {node.name} is {node.state} on {args.target}: runtimes "
            f"{', '.join(sorted(node.runtimes))}, Kiln {node.version}"
        )
    return 0


def node_uninstall(args: argparse.Namespace) -> int:
    _need_paramiko()
    from kiln.cli.session import connect as coordinator
    from kiln.installers.nodes import uninstall_node

    timeout = _duration(args.drain_timeout, "--drain-timeout")
    with coordinator() as client, _open(args) as remote:
        name = uninstall_node(remote, client, args.prefix, timeout, args.force, info)
    print(f"node {name} uninstalled from {args.target} and removed from the coordinator")
    return 0


# -- doctor ---------------------------------------------------------------------------------------------


def doctor(args: argparse.Namespace) -> int:
    from kiln.doctor import run_checks

    checks = run_checks(args.coordinator_data, args.agent_data)
    if args.json:
        emit_json([c.__dict__ for c in checks])
    else:
        table(["", "CHECK", "FINDING", "WHAT TO DO"], [(c.mark, c.name, c.finding, c.fix) for c in checks])
    failed = [c for c in checks if c.status == "fail"]
    if failed and not args.json:
        print(f"{len(failed)} problem(s) found")
    return 1 if failed else 0
