"""How the command line prints: JSON for machines, aligned tables for people, one-line errors."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from kiln.core import clock


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "nothing to show") -> None:
    if not rows:
        print(empty)
        return
    from rich.console import Console  # imported here: `--json` and a bare command line never pay for rich
    from rich.table import Table

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


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record (time, level, logger, message, exception), for log shippers; the plain
    format stays the default for people and journald."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str, fmt: str = "text") -> None:
    """Logs on stderr: `time level component: message` for people and journald, or (fmt "json") one JSON
    object per line for log shippers."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def add_logging_options(parser: Any, default_level: str = "INFO") -> None:
    parser.add_argument("--log-level", default=default_level, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
