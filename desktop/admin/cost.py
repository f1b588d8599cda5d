"""Cost, computed here from the runs until the coordinator keeps rates: node-hours of finished runs (a run
holds one node from its start to its end) times the hourly rate IT set for that node in the admin window,
in the currency IT chose there (both kept in the desktop settings; a node without a rate costs 0). Also
the CPU-hours and GPU-hours those runs held (hours times the CPUs they asked for and the GPUs they were
given). Per user and per project.

The coordinator has no cost configuration of its own (no rates it uses, no currency), so the currency is
a setting beside the rates, labelled as such, first the system locale's where it is one of CURRENCIES.
Every figure carries its unit: "€12.40", "2.50 node-hours", a rate "€3.00 per node-hour"."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kiln.core.runs import Run
from kiln.desktop.rows import Row

# ISO 4217 code -> what is written before an amount
CURRENCIES = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "CHF": "CHF ",
    "JPY": "¥",
    "CNY": "CN¥",
    "INR": "₹",
    "CAD": "CA$",
    "AUD": "A$",
    "SEK": "SEK ",
    "NOK": "NOK ",
    "DKK": "DKK ",
    "PLN": "PLN ",
}
DEFAULT_CURRENCY = "EUR"
USAGE_UNITS = ("Runs", "Node-hours", "CPU-hours", "GPU-hours")


def headers(first: str, currency: str) -> tuple[str, ...]:
    """("User", "Runs", "Node-hours", "CPU-hours", "GPU-hours", "Cost (EUR)")."""
    return (first, *USAGE_UNITS, f"Cost ({currency})")


@dataclass(frozen=True)
class Usage:
    who: str
    runs: int
    node_hours: float
    cost: float
    cpu_hours: float = 0.0
    gpu_hours: float = 0.0


def node_hours(run: Run) -> float:
    """Hours a finished run held its node; 0 for a run that never started or has not ended."""
    if not run.state.terminal or not run.started_at or not run.finished_at or not run.node:
        return 0.0
    return max(0.0, run.finished_at - run.started_at) / 3600


def gpus_held(run: Run) -> int:
    """The GPUs a run was given (by UUID), else those it asked for."""
    return len(run.gpu_uuids) or run.spec.resources.gpus


def usage(runs: Iterable[Run], rates: Mapping[str, float], key: Callable[[Run], str]) -> list[Usage]:
    """Totals per `key` (the user, the project), largest cost first, then by name."""
    totals: dict[str, Usage] = {}
    for r in runs:
        hours = node_hours(r)
        if not hours:
            continue
        t = totals.get(key(r), Usage(key(r), 0, 0.0, 0.0))
        totals[key(r)] = Usage(
            t.who,
            t.runs + 1,
            t.node_hours + hours,
            t.cost + hours * rates.get(r.node, 0.0),
            t.cpu_hours + hours * r.spec.resources.cpus,
            t.gpu_hours + hours * gpus_held(r),
        )
    return sorted(totals.values(), key=lambda u: (-u.cost, -u.node_hours, u.who))


def by_user(runs: Iterable[Run], rates: Mapping[str, float]) -> list[Usage]:
    return usage(runs, rates, lambda r: r.user)


def by_project(runs: Iterable[Run], rates: Mapping[str, float]) -> list[Usage]:
    return usage(runs, rates, lambda r: r.spec.project)


def symbol(currency: str) -> str:
    return CURRENCIES.get(currency, f"{currency} ")


def money(amount: float, currency: str = DEFAULT_CURRENCY) -> str:
    """ "€12.40"; four decimals below 1 so that short runs do not all read €0.00."""
    figure = f"{amount:,.2f}" if amount >= 1 or amount == 0 else f"{amount:.4f}"
    return f"{symbol(currency)}{figure}"


def hours(value: float) -> str:
    """Hours to two decimals, four below 1 (a run of minutes)."""
    return f"{value:,.2f}" if value >= 1 or value == 0 else f"{value:.4f}"


def usage_rows(found: Iterable[Usage], currency: str = DEFAULT_CURRENCY) -> list[Row]:
    return [
        Row(
            (u.who, str(u.runs), hours(u.node_hours), hours(u.cpu_hours), hours(u.gpu_hours), money(u.cost, currency)),
            u.who,
            sort=(u.who, u.runs, u.node_hours, u.cpu_hours, u.gpu_hours, u.cost),
        )
        for u in found
    ]


def total_text(found: Iterable[Usage], currency: str = DEFAULT_CURRENCY) -> str:
    items = list(found)
    runs = sum(u.runs for u in items)
    node, cpu, gpu = (sum(getattr(u, f) for u in items) for f in ("node_hours", "cpu_hours", "gpu_hours"))
    cost = sum(u.cost for u in items)
    return (
        f"{runs} finished run{'s' if runs != 1 else ''}: {hours(node)} node-hours, {hours(cpu)} CPU-hours, "
        f"{hours(gpu)} GPU-hours; cost {money(cost, currency)} at the rates below"
    )


def rate_affixes(currency: str) -> tuple[str, str]:
    """(prefix, suffix) of a rate field: "€" … " per node-hour"."""
    return symbol(currency), " per node-hour"
