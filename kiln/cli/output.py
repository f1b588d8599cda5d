"""How the command line prints: JSON for machines, aligned tables for people, one-line errors."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from kiln.core import clock


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def emit_json_stream(items: Iterable[Any]) -> None:
    """A JSON array written item by item as the items come (pages of a listing), the same text as
    `emit_json` of the whole list."""
    out, first = sys.stdout, True
    for item in items:
        body = json.dumps(item, indent=2, sort_keys=False, default=str).replace("\n", "\n  ")
        out.write(("[\n  " if first else ",\n  ") + body)
        out.flush()
        first = False
    out.write("[]\n" if first else "\n]\n")


def stream_table(
    columns: Sequence[str], pages: Iterable[Sequence[Sequence[Any]]], empty: str = "nothing to show"
) -> None:
    """A table printed page by page as the pages of a listing come: the header once, and every page's
    columns at least as wide as the first page's, so they line up unless a later cell is wider."""
    widths: list[int] | None = None
    for rows in pages:
        if not rows:
            continue
        cells = [["" if v is None else str(v) for v in r] for r in rows]
        first = widths is None
        if widths is None:
            widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        _print_table(columns, cells, widths, header=first)
        sys.stdout.flush()
    if widths is None:
        print(empty)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "nothing to show") -> None:
    if not rows:
        print(empty)
        return
    _print_table(columns, [["" if v is None else str(v) for v in r] for r in rows], None, header=True)


def _print_table(columns: Sequence[str], rows: list[list[str]], widths: list[int] | None, header: bool) -> None:
    from rich.console import Console  # imported here: `--json` and a bare command line never pay for rich
    from rich.table import Table

    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", show_header=header)
    for i, c in enumerate(columns):
        t.add_column(c, min_width=widths[i] if widths else None)
    for r in rows:
        t.add_row(*r)
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
