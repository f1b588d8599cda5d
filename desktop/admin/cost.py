"""Cost, computed here from the runs until the coordinator keeps rates: node-hours of finished runs
(a run holds one node from its start to its end) times the hourly rate IT set for that node in the admin
window (kept in the desktop settings; a node without a rate costs 0). Per user and per project."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kiln.core.runs import Run
from kiln.desktop.rows import Row

COST_HEADERS_USER = ("User", "Runs", "Node-hours", "Cost")
COST_HEADERS_PROJECT = ("Project", "Runs", "Node-hours", "Cost")


@dataclass(frozen=True)
class Usage:
    who: str
    runs: int
    node_hours: float
    cost: float


def node_hours(run: Run) -> float:
    """Hours a finished run held its node; 0 for a run that never started or has not ended."""
    if not run.state.terminal or not run.started_at or not run.finished_at or not run.node:
        return 0.0
    return max(0.0, run.finished_at - run.started_at) / 3600


def usage(runs: Iterable[Run], rates: Mapping[str, float], key: Callable[[Run], str]) -> list[Usage]:
    """Totals per `key` (the user, the project), largest cost first, then by name."""
    totals: dict[str, tuple[int, float, float]] = {}
    for r in runs:
        hours = node_hours(r)
        if not hours:
            continue
        n, h, c = totals.get(key(r), (0, 0.0, 0.0))
        totals[key(r)] = (n + 1, h + hours, c + hours * rates.get(r.node, 0.0))
    found = [Usage(k, n, h, c) for k, (n, h, c) in totals.items()]
    return sorted(found, key=lambda u: (-u.cost, -u.node_hours, u.who))


def by_user(runs: Iterable[Run], rates: Mapping[str, float]) -> list[Usage]:
    return usage(runs, rates, lambda r: r.user)


def by_project(runs: Iterable[Run], rates: Mapping[str, float]) -> list[Usage]:
    return usage(runs, rates, lambda r: r.spec.project)


def money(amount: float) -> str:
    """Two decimals, or four below 1 so that short runs do not all read 0.00."""
    return f"{amount:.2f}" if amount >= 1 or amount == 0 else f"{amount:.4f}"


def usage_rows(found: Iterable[Usage]) -> list[Row]:
    return [Row((u.who, str(u.runs), f"{u.node_hours:.4f}", money(u.cost)), u.who) for u in found]


def total_text(found: Iterable[Usage]) -> str:
    items = list(found)
    hours, cost = sum(u.node_hours for u in items), sum(u.cost for u in items)
    runs = sum(u.runs for u in items)
    return f"{runs} finished run{'s' if runs != 1 else ''}: {hours:.4f} node-hours, cost {money(cost)}"
