"""Cluster health as IT reads it at a glance, from plain values: green when every node is ready, amber when
one needs a look (unreachable, offline, draining, or no node at all), red when the coordinator itself
cannot be reached. Also the node lines the tray menu and the node tables show."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from kiln.core.models import Node
from kiln.core.units import format_bytes
from kiln.desktop.rows import Row, ago

GREEN, AMBER, RED = "green", "amber", "red"
COLOURS = {GREEN: "#2e9d4f", AMBER: "#e0a100", RED: "#c62828"}
NODE_HEADERS = ("Node", "State", "CPU", "Memory", "GPUs", "Runs", "Last seen")


@dataclass(frozen=True)
class Health:
    level: str  # green, amber or red
    summary: str

    @property
    def colour(self) -> str:
        return COLOURS[self.level]


def cluster_health(nodes: Sequence[Node] | None, problem: str = "") -> Health:
    """`nodes` is None when the coordinator could not be asked (`problem` says why)."""
    if nodes is None:
        return Health(RED, f"coordinator unreachable: {problem}" if problem else "coordinator unreachable")
    if not nodes:
        return Health(AMBER, "no nodes enrolled: nothing can run (Create join token… to add one)")
    troubled = [n for n in sorted(nodes, key=lambda n: n.name) if n.state != "ready"]
    if troubled:
        words = ", ".join(f"{n.name} {n.state}" for n in troubled)
        return Health(AMBER, f"{len(nodes) - len(troubled)} of {len(nodes)} nodes ready; {words}")
    return Health(GREEN, f"all {len(nodes)} node{'s' if len(nodes) != 1 else ''} ready")


def cpu_text(n: Node) -> str:
    return f"{n.inventory.cpus:g} cores, {n.inventory.cpu_percent:.0f}%"


def memory_text(n: Node) -> str:
    inv = n.inventory
    return f"{format_bytes(inv.memory_used_bytes)} of {format_bytes(inv.memory_bytes)}"


def gpu_text(n: Node) -> str:
    gpus = n.inventory.gpus
    if not gpus:
        return "none"
    models = sorted({g.model for g in gpus})
    busy = sum(g.utilization for g in gpus) / len(gpus)
    return f"{len(gpus)} × {', '.join(models)}, {busy:.0f}% busy"


def node_line(n: Node) -> str:
    """One line for a menu entry: everything IT checks before draining a node."""
    return f"{n.name}: {n.state} · CPU {n.inventory.cpu_percent:.0f}% · {memory_text(n)} · GPUs {gpu_text(n)}"


def node_rows(nodes: Sequence[Node], now: float | None = None) -> list[Row]:
    """ "Last seen" relative to `now` ("just now" for a node in touch), the exact time on hover."""
    now = time.time() if now is None else now
    rows = []
    for n in sorted(nodes, key=lambda n: n.name):
        seen, exact = ago(n.last_seen, now)
        cells = (n.name, n.state, cpu_text(n), memory_text(n), gpu_text(n), str(len(n.runs)), seen)
        rows.append(Row(cells, n.name, tips=("", "", "", "", "", "", exact), sort=(*cells[:6], n.last_seen or None)))
    return rows


def counts_text(queued: int, running: int) -> str:
    return f"{queued} queued, {running} running"
