"""What the artifacts tab shows of one file, decided from its name, its size and its first bytes: text (the
first 64 KiB), JSON (pretty-printed when the whole file is small enough to parse), CSV (a table of its first
rows), an image (decoded by the widget), or a sentence saying why it is not previewed.

Plain data and the standard library, so what a stranger's artifact turns into is tested without widgets.
How much is read is decided here too (`read_limit`): a preview never reads more of a blob than it shows,
so a 2 GB artifact costs at most one chunk."""

from __future__ import annotations

import codecs
import csv
import io
import json
import posixpath
from dataclasses import dataclass

from kiln.core.units import format_bytes

TEXT_BYTES = 64 * 1024  # text shown: a few thousand lines, instant in a QPlainTextEdit
JSON_BYTES = 1024 * 1024  # a JSON file up to this size is parsed whole and pretty-printed
CSV_BYTES = 512 * 1024  # read for a CSV table: its first rows, however wide they are
CSV_ROWS = 200
CSV_COLUMNS = 100  # a wider table is cut: a preview, not a spreadsheet
IMAGE_BYTES = 16 * 1024**2  # an image is decoded whole, so only up to this size
SNIFF_BYTES = 8 * 1024  # where text and binary are told apart, and a CSV's delimiter guessed
BINARY_SHARE = 0.01  # more undecodable characters than this: not text

IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".svg": "SVG", ".bmp": "BMP"}
IMAGE_SUFFIXES |= {".webp": "WebP"}
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
TEXT_SUFFIXES = {".txt", ".log", ".md", ".rst", ".py", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".sh", ".jsonl"}
TEXT_SUFFIXES |= {".html", ".xml", ".r", ".sql", ".ipynb", ".out", ".err"}
NOT_PREVIEWED = "Save… it to open it with the program it is for"


@dataclass(frozen=True)
class Preview:
    """`kind`: "text", "table", "image" (its bytes in `data`, for the widget to decode) or "none"; `caption`
    says what is shown of how much ("first 200 rows of 12.3 MiB") or why nothing is."""

    kind: str
    caption: str
    text: str = ""
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    data: bytes = b""


def suffix(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def file_type(path: str, kind: str = "file") -> str:
    """The type column: what the name says the file is ("CSV table", "PNG image", "JSON", "text")."""
    if kind != "file":
        return {"dir": "folder", "symlink": "symbolic link"}.get(kind, kind)
    ext = suffix(path)
    if ext in IMAGE_SUFFIXES:
        return f"{IMAGE_SUFFIXES[ext]} image"
    if ext in CSV_SUFFIXES:
        return "TSV table" if ext == ".tsv" else "CSV table"
    if ext == ".json":
        return "JSON"
    if ext in TEXT_SUFFIXES:
        return "text"
    return "file"


def read_limit(path: str, size: int) -> int:
    """How many of the file's first bytes its preview needs (0: none are worth reading)."""
    ext = suffix(path)
    if ext in IMAGE_SUFFIXES:
        return size if size <= IMAGE_BYTES else 0
    if ext == ".json":
        return min(size, JSON_BYTES if size <= JSON_BYTES else TEXT_BYTES)
    if ext in CSV_SUFFIXES:
        return min(size, CSV_BYTES)
    return min(size, TEXT_BYTES)


def preview(path: str, size: int, head: bytes) -> Preview:
    """The preview of a file of `size` bytes whose first bytes are `head` (as many as `read_limit` asks)."""
    ext, whole = suffix(path), len(head) >= size
    if size == 0:
        return Preview("text", "an empty file")
    if ext in IMAGE_SUFFIXES:
        if not whole:
            return Preview("none", f"{file_type(path)} of {format_bytes(size)}: too big to preview; {NOT_PREVIEWED}")
        return Preview("image", f"{file_type(path)}, {format_bytes(size)}", data=head)
    text = decoded(head, whole)
    if text is None:
        return Preview("none", f"binary file of {format_bytes(size)}: not previewed; {NOT_PREVIEWED}")
    if ext == ".json":
        return json_preview(text, size, whole)
    if ext in CSV_SUFFIXES:
        return csv_preview(text, size, whole, CSV_SUFFIXES[ext])
    return text_preview(text, size, whole)


def decoded(head: bytes, whole: bool) -> str | None:
    """The bytes as UTF-8 text (a character cut by the end of `head` dropped), or None for binary."""
    sample = head[:SNIFF_BYTES]
    if b"\0" in sample:
        return None
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=whole)
    bad = text.count("\ufffd", 0, SNIFF_BYTES)
    return None if bad > max(1, len(sample) * BINARY_SHARE) else text


def shown_of(shown: int, size: int) -> str:
    return f"all {format_bytes(size)}" if shown >= size else f"first {format_bytes(shown)} of {format_bytes(size)}"


def cut(text: str, whole: bool, limit: int = TEXT_BYTES) -> tuple[str, bool]:
    """At most `limit` characters, ending at a line's end where it is cut; whether anything was cut."""
    if whole and len(text) <= limit:
        return text, False
    text = text[:limit]
    end = text.rfind("\n")
    return (text[: end + 1] if end > 0 else text), True


def text_preview(text: str, size: int, whole: bool, note: str = "") -> Preview:
    shown, was_cut = cut(text, whole)
    amount = shown_of(len(shown.encode("utf-8")), size) if was_cut else f"all {format_bytes(size)}"
    return Preview("text", f"{note}text, {amount}", text=shown)


def json_preview(text: str, size: int, whole: bool) -> Preview:
    if not whole:
        return text_preview(text, size, False, f"JSON of {format_bytes(size)}, too big to pretty-print: ")
    try:
        pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError as e:
        return text_preview(text, size, True, f"not valid JSON ({e}), shown as ")
    shown, was_cut = cut(pretty, True)
    amount = f"the first {format_bytes(len(shown.encode('utf-8')))} of it" if was_cut else "all of it"
    return Preview("text", f"JSON, {format_bytes(size)}, pretty-printed: {amount}", text=shown)


def csv_preview(text: str, size: int, whole: bool, delimiter: str) -> Preview:
    """A table of the first CSV_ROWS rows under the first (header) row; a line cut by the end of what was
    read is left out. A file the csv module cannot read is shown as text."""
    if not whole:
        end = text.rfind("\n")
        text = text[: end + 1] if end > 0 else text
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        found = [row for _, row in zip(range(CSV_ROWS + 2), reader, strict=False)]
    except csv.Error as e:
        return text_preview(text, size, whole, f"not readable as a table ({e}), shown as ")
    if not found:
        return text_preview(text, size, whole)
    header, body = found[0], found[1 : CSV_ROWS + 1]
    width = min(CSV_COLUMNS, max(len(r) for r in [header, *body]))
    headers = tuple((header + [""] * width)[:width])
    rows = tuple(tuple((r + [""] * width)[:width]) for r in body)
    more = len(found) > CSV_ROWS + 1 or not whole
    rows_said = f"first {len(rows)} rows" if more else f"all {len(rows)} row{'s' if len(rows) != 1 else ''}"
    columns = f", first {CSV_COLUMNS} columns" if max(len(r) for r in [header, *body]) > CSV_COLUMNS else ""
    return Preview("table", f"table, {rows_said}{columns} of {format_bytes(size)}", headers=headers, rows=rows)
