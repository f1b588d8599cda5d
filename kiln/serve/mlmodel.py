"""Reading an MLflow model folder's `MLmodel` file without requiring PyYAML in the model's environment.

A replica runs in the model's own environment, and an environment that has scikit-learn need not have
PyYAML (mlflow brings it; a model saved elsewhere and copied over may come without). MLmodel files are
written by yaml.safe_dump and use a small part of YAML: block mappings, lists of scalars, and scalars
that are plain, 'single' or "double" quoted, long ones folded over several lines (the signature's JSON
usually is). `parse_simple_yaml` reads exactly that; PyYAML is used instead whenever it is importable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_KEY = re.compile(r"""^(?P<key>'[^']*'|"[^"]*"|[^:#'"][^:#]*?)\s*:(?:\s+(?P<rest>.*))?$""")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/", " ": " ", "e": "\x1b"}


def read_mlmodel(path: Path) -> dict[str, Any]:
    """The MLmodel file at `path` as a dict (PyYAML when importable, else parse_simple_yaml)."""
    text = path.read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:
        doc: Any = parse_simple_yaml(text)
    else:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return doc


def parse_simple_yaml(text: str) -> dict[str, Any]:
    """The block-style YAML of an MLmodel file as a dict. Lines it does not understand (anchors, lists
    of mappings) are skipped: the replica needs only a few keys, and a key it cannot read is as good as
    missing."""
    lines = text.splitlines()
    root: dict[str, Any] = {}
    stack: list[tuple[float, Any]] = [(-1, root)]
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        item = stripped == "-" or stripped.startswith("- ")
        while indent <= stack[-1][0] or (not item and isinstance(stack[-1][1], list) and len(stack) > 1):
            stack.pop()
        parent = stack[-1][1]
        if item:
            if isinstance(parent, list):
                value, i = _scalar(stripped[1:].strip(), lines, i, indent)
                parent.append(value)
            continue
        match = _KEY.match(stripped)
        if match is None or not isinstance(parent, dict):
            continue
        key = match.group("key")
        if key[:1] in "'\"":
            key = key[1:-1]
        rest = (match.group("rest") or "").strip()
        if rest and not rest.startswith("#"):
            parent[key], i = _scalar(rest, lines, i, indent)
            continue
        following = _next_line(lines, i)
        if following is not None and following[1].startswith("-") and following[0] >= indent:
            parent[key] = []
            stack.append((indent - 0.5, parent[key]))  # items may sit at the key's own indent
        elif following is not None and following[0] > indent:
            parent[key] = {}
            stack.append((indent, parent[key]))
        else:
            parent[key] = None
    return root


def _next_line(lines: list[str], i: int) -> tuple[int, str] | None:
    for raw in lines[i:]:
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            return len(raw) - len(raw.lstrip(" ")), stripped
    return None


def _scalar(rest: str, lines: list[str], i: int, indent: int) -> tuple[Any, int]:
    """The value that starts with `rest` on the line before lines[i], and the index of the line after it."""
    if rest[0] in "'\"":
        return _quoted(rest, lines, i)
    if rest[0] in "|>":
        block = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > indent):
            block.append(lines[i].strip())
            i += 1
        while block and not block[-1]:
            block.pop()
        return ("\n" if rest[0] == "|" else " ").join(block) + "\n", i
    pieces = [_uncomment(rest)]
    while i < len(lines) and lines[i].strip() and len(lines[i]) - len(lines[i].lstrip(" ")) > indent:
        if _KEY.match(lines[i].strip()):
            break
        pieces.append(_uncomment(lines[i].strip()))
        i += 1
    return _plain(" ".join(pieces)), i


def _uncomment(text: str) -> str:
    at = text.find(" #")
    return (text[:at] if at >= 0 else text).rstrip()


def _plain(text: str) -> Any:
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _quoted(rest: str, lines: list[str], i: int) -> tuple[str, int]:
    """A 'single' or "double" quoted scalar, which may run over several lines (folded into spaces)."""
    quote = rest[0]
    parts = [rest[1:]]
    while True:
        end = _closing(parts[-1], quote)
        if end is not None:
            parts[-1] = parts[-1][:end]
            break
        if i >= len(lines):
            raise ValueError(f"unterminated {quote}-quoted string in MLmodel")
        parts.append(lines[i])
        i += 1
    text = _fold(parts, quote)
    return (text.replace("''", "'") if quote == "'" else _unescape(text)), i


def _closing(text: str, quote: str) -> int | None:
    j = 0
    while j < len(text):
        c = text[j]
        if quote == '"' and c == "\\":
            j += 2
            continue
        if c == quote:
            if quote == "'" and text[j + 1 : j + 2] == "'":
                j += 2
                continue
            return j
        j += 1
    return None


def _fold(parts: list[str], quote: str) -> str:
    """YAML's line folding in flow scalars: a line break is a space, an empty line a newline."""
    out = parts[0] if len(parts) == 1 else parts[0].rstrip(" \t")
    newlines = 0
    joined = False
    for n, part in enumerate(parts[1:], start=1):
        piece = part.strip(" \t") if n < len(parts) - 1 else part.lstrip(" \t")
        if not piece and n < len(parts) - 1:
            newlines += 1
            continue
        if quote == '"' and _escaped_break(out):
            out, joined = out[:-1], True
        out += "" if joined else ("\n" * newlines if newlines else " ")
        out += piece
        newlines, joined = 0, False
    return out


def _escaped_break(text: str) -> bool:
    backslashes = len(text) - len(text.rstrip("\\"))
    return backslashes % 2 == 1


def _unescape(text: str) -> str:
    out = []
    j = 0
    while j < len(text):
        c = text[j]
        if c != "\\" or j + 1 >= len(text):
            out.append(c)
            j += 1
            continue
        code = text[j + 1]
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width:
            out.append(chr(int(text[j + 2 : j + 2 + width], 16)))
            j += 2 + width
        else:
            out.append(_ESCAPES.get(code, code))
            j += 2
    return "".join(out)
