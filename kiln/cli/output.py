"""How the command line prints: JSON for machines, aligned tables for people, one-line errors."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from kiln.core import clock


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "nothing to show") -> None:
    if not rows:
        print(empty)
        return
    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    # Piped output keeps whole cells: no wrapping or ellipses for a script to trip over.
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 10_000).print(t)


def when(ts: float) -> str:
    return clock.iso(ts)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def info(message: str) -> None:
    """A note for the person at the terminal; goes to stderr so stdout stays parseable."""
    print(message, file=sys.stderr)


def setup_logging(level: str) -> None:
    """Structured enough for journald and grep: time, level, component, message, on stderr."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
