"""The compare view's sections as text to paste elsewhere: CSV (a spreadsheet) or a Markdown table per
section (a pull request, a wiki page). What is copied is what the sections show."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from kiln.desktop.rows import Row

Section = tuple[str, Sequence[str], Sequence[Row]]  # title, column headers, rows


def _header(text: str) -> str:
    return " ".join(text.split())  # "r-1a2b\nbaseline" -> "r-1a2b baseline"


def as_csv(sections: Sequence[Section]) -> str:
    """One CSV: a "section" column first, then each section's header row and rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for title, headers, rows in sections:
        writer.writerow(["section", *(_header(h) for h in headers)])
        for row in rows:
            writer.writerow([title, *row.cells])
    return out.getvalue()


def _md_cell(text: str) -> str:
    return _header(text).replace("|", "\\|") or " "


def as_markdown(sections: Sequence[Section]) -> str:
    """A heading and a table per section."""
    parts = []
    for title, headers, rows in sections:
        lines = [f"### {title}", "", "| " + " | ".join(_md_cell(h) for h in headers) + " |"]
        lines.append("|" + "---|" * len(headers))
        lines += ["| " + " | ".join(_md_cell(c) for c in row.cells) + " |" for row in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
