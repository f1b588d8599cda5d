"""`kiln nodes`, `kiln node …` (IT), and `kiln agent` (the node daemon)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import threading
from pathlib import Path
from typing import Any

from kiln.cli.common import add_json, command, group
from kiln.cli.ops import register_node_commands  # [ops]
from kiln.cli.output import add_logging_options, emit_json, setup_logging, table, when
from kiln.cli.session import connect
from kiln.core import defaults, names
from kiln.core.errors import InvalidArgument
from kiln.core.models import Node
from kiln.core.units import format_bytes, parse_duration, parse_size


def register(sub: Any) -> None:
    add_json(command(sub, "nodes", "the compute nodes, their state, capacity and runs", list_nodes))
    g = group(sub, "node", "manage compute nodes (admins)")
    t = g.add_parser("token", help="join tokens for new nodes").add_subparsers(title="commands", metavar="COMMAND")
    p = command(t, "create", "a join token for `kiln agent --join-token` (shown once)", token_create)
    p.add_argument("--uses", type=int, default=1, help="how many nodes may enrol with it (default 1)")
    p.add_argument("--expires", default="1h", help="lifetime, e.g. 30m, 1d (default 1h)")
    add_json(p)
    for name, drain, text in (
        ("drain", True, "stop placing new runs on a node (running ones finish)"),
        ("undrain", False, "let a drained node take runs again"),
    ):
        p = command(g, name, text, set_drain)
        p.add_argument("name")
        p.set_defaults(drain=drain)
    p = command(g, "remove", "forget a node; its certificate stops working", remove)
    p.add_argument("name")
    p = command(g, "reset", "revoke a node's certificate so the host enrols again (re-imaged, or cloned)", reset)
    p.add_argument("name")
    p = command(g, "quarantine", "reports from nodes that could not be applied, set aside", quarantine)
    p.add_argument("name", nargs="?", default="", help="one node (default: every node)")
    add_json(p)
    register_node_commands(g)  # [ops] add, uninstall (over SSH)

    p = command(sub, "agent", "run the node agent: enrol once with a join token, then take work", agent)
    p.add_argument("--coordinator", required=True, metavar="HOST:PORT")
    p.add_argument(
        "--join-token",
        default=os.environ.get("KILN_JOIN_TOKEN", ""),
        help="needed the first time only (default $KILN_JOIN_TOKEN)",
    )
    p.add_argument("--data", type=Path, required=True, help="the agent's folder (identity, cache, spool)")
    p.add_argument("--name", default="", help="node name (default: the host name)")
    p.add_argument(
        "--runtime",
        action="append",
        default=[],
        choices=["docker", "process"],
        help="runtimes to offer (default: every one that works here)",
    )
    p.add_argument("--labels", default="", metavar="K=V,…", help="labels runs can ask for, e.g. zone=a,disk=ssd")
    p.add_argument("--inventory", type=Path, default=None, help="JSON file declaring CPUs, memory or GPUs")
    p.add_argument("--metrics-listen", default="", metavar="HOST:PORT", help="serve Prometheus /metrics here")
    p.add_argument(
        "--serve-host",
        default=defaults.SERVE_HOST,
        metavar="HOST",
        help="where model replicas on this node listen: the address gateways reach it at (default 127.0.0.1)",
    )
    p.add_argument(
        "--max-output-bytes",
        default=str(defaults.MAX_OUTPUT_BYTES),
        metavar="SIZE",
        help="most a run may create or change in its folder to have its outputs saved, e.g. 50G (default 20G)",
    )
    p.add_argument(
        "--env-cache-bytes",
        default=str(defaults.ENV_CACHE_BYTES),
        metavar="SIZE",
        help="most the built environments kept on this node may hold, least recently used removed first (default 50G)",
    )
    p.add_argument(
        "--index-url",
        default="",
        help="the package index environment builds install from (default: uv's configuration, e.g. UV_INDEX_URL)",
    )
    p.add_argument("--find-links", action="append", default=[], metavar="DIR|URL", help="wheels to install from")
    p.add_argument("--no-index", action="store_true", help="install only from --find-links")
    add_logging_options(p)


def node_dict(n: Node) -> dict[str, object]:
    inv = n.inventory
    return {
        "name": n.name,
        "state": n.state,
        "labels": n.labels,
        "runtimes": n.runtimes,
        "drained": n.drained,
        "cpus": inv.cpus,
        "cpu_percent": inv.cpu_percent,
        "memory_bytes": inv.memory_bytes,
        "memory_used_bytes": inv.memory_used_bytes,
        "disk_free_bytes": inv.disk_free_bytes,
        "gpus": [
            {
                "uuid": g.uuid,
                "model": g.model,
                "memory_bytes": g.memory_bytes,
                "utilization": g.utilization,
                "temperature_c": g.temperature_c,
            }
            for g in inv.gpus
        ],
        "runs": list(n.runs),
        "last_seen": when(n.last_seen) or None,
        "version": n.version or None,
        "quarantined": n.quarantined,
        "duplicates": n.duplicates,
        "duplicate_at": when(n.duplicate_at) or None,
        "duplicate_from": n.duplicate_from or None,
    }


def list_nodes(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_nodes()
    if args.json:
        emit_json([node_dict(n) for n in found])
    else:
        table(
            ["NAME", "STATE", "CPUS", "MEMORY", "GPUS", "RUNS", "RUNTIMES", "LAST SEEN"],
            [
                (
                    n.name,
                    n.state,
                    f"{n.inventory.cpus:g} ({n.inventory.cpu_percent:.0f}%)",
                    format_bytes(n.inventory.memory_bytes),
                    len(n.inventory.gpus),
                    len(n.runs),
                    ",".join(sorted(n.runtimes)),
                    when(n.last_seen),
                )
                for n in found
            ],
            "no nodes yet: make a join token (kiln node token create) and start kiln agent on a node",
        )
        for n in found:
            if n.quarantined:
                print(f"{n.name}: {n.quarantined} report(s) set aside; see kiln node quarantine {n.name}")
            if n.duplicates:
                print(
                    f"{n.name}: {n.duplicates} connection(s) refused because its identity was already connected, "
                    f"last from {n.duplicate_from or 'an unknown address'} at {when(n.duplicate_at)} (a copied "
                    f"identity? a re-imaged host enrols again after kiln node reset {n.name})"
                )
    return 0


def quarantine(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_quarantined(args.name)
    if args.json:
        emit_json([{**dataclasses.asdict(q), "time": when(q.time)} for q in found])
    else:
        table(
            ["NODE", "SEQ", "KIND", "FAILURES", "TIME", "ERROR"],
            [(q.node, q.seq, q.kind, q.failures, when(q.time), q.error.splitlines()[0][:100]) for q in found],
            "no reports set aside",
        )
    return 0


def token_create(args: argparse.Namespace) -> int:
    try:
        ttl = parse_duration(args.expires)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    with connect() as client:
        t = client.create_join_token(args.uses, ttl)
    if args.json:
        emit_json({"id": t.id, "token": t.token, "uses": t.uses, "expires_at": when(t.expires_at)})
    else:
        print(f"join token {t.id} for {t.uses} node(s), expires {when(t.expires_at)}:\n{t.token}")
    return 0


def set_drain(args: argparse.Namespace) -> int:
    with connect() as client:
        n = client.set_drain(args.name, args.drain)
    print(f"{n.name} {'drained: no new runs' if n.drained else 'takes runs again'}")
    return 0


def remove(args: argparse.Namespace) -> int:
    with connect() as client:
        client.remove_node(args.name)
    print(f"{args.name} removed")
    return 0


def reset(args: argparse.Namespace) -> int:
    with connect() as client:
        client.reset_node(args.name)
    print(
        f"{args.name}: its certificate is revoked; enrol the host again under this name with a new join token "
        "(kiln node token create) and an empty agent data folder"
    )
    return 0


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"label {item!r} must look like KEY=VALUE")
        labels[key] = value
    names.check_labels(labels)  # what the coordinator would refuse at the agent's hello, said at start
    return labels


def agent(args: argparse.Namespace) -> int:
    from kiln.agent.daemon import Agent, AgentConfig

    try:
        max_output = parse_size(args.max_output_bytes)
    except ValueError as e:
        raise InvalidArgument(f"--max-output-bytes: {e}") from None
    try:
        env_cache = parse_size(args.env_cache_bytes)
    except ValueError as e:
        raise InvalidArgument(f"--env-cache-bytes: {e}") from None
    from kiln.sync.locks import IndexSettings

    setup_logging(args.log_level, args.log_format)
    config = AgentConfig(
        args.coordinator,
        args.data,
        args.join_token,
        args.name,
        parse_labels(args.labels),
        tuple(args.runtime),
        args.inventory,
        args.metrics_listen,
        max_output,
        env_cache,
        IndexSettings(args.index_url, tuple(args.find_links), args.no_index),
        args.serve_host,
    )
    daemon = Agent(config)
    print(
        f"Kiln agent {daemon.name}: runtimes {', '.join(sorted(daemon.runtimes))}; coordinator {args.coordinator}",
        flush=True,
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: daemon.stop())
    failure: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as e:
            failure.append(e)

    worker = threading.Thread(target=run, name="kiln-agent")
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
    if failure:
        raise failure[0]
    return 0
