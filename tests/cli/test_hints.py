"""Every `kiln …` a message tells a person to run names a command that exists, with options it takes.

The hints are collected from the source itself: every string literal (docstrings aside) under kiln/,
coordinator/, agent/ and installers/, f-string placeholders and %-formats standing for one value each. Each
hint is parsed by the CLI's own parser. Prose may follow a hint ("kiln runs lists them"), so trailing plain
words are dropped until the rest parses; a hint is refused when what remains names no command, or when an
option, a value or a placeholder had to be dropped. A missing required argument is fine: "start an agent
(kiln agent)" names a real command without spelling out its flags.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.cli import _join_signed_values, build_parser

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("kiln", "coordinator", "agent", "installers")
PLACEHOLDER = "X"

# `kiln` as a word, where a command line starts (not /opt/kiln, kiln-test/…, [kiln …]), then a sub-command.
HINT = re.compile(r"(?:^|(?<=[\s(`'\"]))kiln ([a-z][^\n`'\"(),;]*)")
PROSE = re.compile(r"[a-z]+")


class Refused(Exception):
    pass


def _raise(self: argparse.ArgumentParser, message: str) -> None:
    raise Refused(message)


def _text(node: ast.expr) -> str:
    """A string literal as a message would read, each placeholder one value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    assert isinstance(node, ast.JoinedStr)
    return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant | ast.JoinedStr):
                found.add(id(first.value))
    return found


def strings(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inner:
            continue
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            yield node.lineno, _text(node)


def hints_in(text: str) -> list[str]:
    text = re.sub(r"%[sdr]|\{[^{}]*\}", PLACEHOLDER, text)
    text = re.sub(r"(?<= )(--?[a-z][\w-]*) \"[^\"\n]*\"", rf"\1 {PLACEHOLDER}", text)  # --filter "a > 1"
    found = []
    for match in HINT.finditer(text):
        hint = re.split(r"\s{2,}| && |\. ", match.group(1))[0].strip().rstrip(".:")
        found.append(hint)
    return found


def all_hints() -> list[tuple[str, str]]:
    found = []
    for part in SOURCES:
        for path in sorted((ROOT / part).rglob("*.py")):
            if "_pb2" in path.name:
                continue
            for line, text in strings(path):
                found += [(f"{path.relative_to(ROOT)}:{line}", hint) for hint in hints_in(text)]
    return found


def verdict(parser: argparse.ArgumentParser, hint: str) -> str | None:
    """None if the hint parses (once trailing prose is dropped), else why not."""
    words = hint.split()
    first_error = ""
    for end in range(len(words), 0, -1):
        dropped = words[end:]
        if not all(PROSE.fullmatch(w) for w in dropped):
            break
        kept = words[:end]
        # An option named without its value ("pin it with kiln login --fingerprint") stands for its use.
        trials = [kept, [*kept, PLACEHOLDER]] if kept[-1].startswith("-") else [kept]
        for trial in trials:
            try:
                parser.parse_args(_join_signed_values(trial))  # as main() reads `--sort -metrics.acc`
                return None
            except Refused as e:
                if str(e).startswith("the following arguments are required"):
                    return None
                first_error = first_error or str(e)
    return first_error or "nothing of it parses"


HINTS = all_hints()


def test_the_source_holds_hints_to_check():
    assert len(HINTS) > 30
    assert ("coordinator/access.py", "project list shows them") in [(w.split(":")[0], h) for w, h in HINTS]


def test_every_hinted_command_parses(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(argparse.ArgumentParser, "error", _raise)
    parser = build_parser()
    wrong = [f"{where}: kiln {hint!r}: {why}" for where, hint in HINTS if (why := verdict(parser, hint))]
    assert wrong == []


@pytest.mark.parametrize(
    "hint",
    ["project add-member p USER --role ... --validator", "frobnicate now", "runs --colums params.lr", "is found"],
)
def test_a_hint_naming_what_does_not_exist_is_caught(hint: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(argparse.ArgumentParser, "error", _raise)
    assert verdict(build_parser(), hint) is not None


def test_prose_after_a_hint_and_missing_required_arguments_are_allowed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(argparse.ArgumentParser, "error", _raise)
    parser = build_parser()
    for hint in ("runs lists them", "agent", "logs r-1a2b -f", "project use P", "login X --user admin --fingerprint X"):
        assert verdict(parser, hint) is None, hint
    assert hints_in("no project: pass -p P or run kiln project use P") == ["project use P"]
    assert hints_in("see `kiln node quarantine %s`; /opt/kiln/bin and kiln-test/busybox are not hints") == [
        "node quarantine X"
    ]
