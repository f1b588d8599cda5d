"""A run's job identity for OpenLineage: what it runs, derived from its command, so every run of
`python train.py --lr 0.1` and of `python train.py --lr 0.2` belongs to the one job `PROJECT/train.py`
(the hyper-parameters are the run's, not the job's)."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh"})
SHELL_OPERATORS = frozenset({";", "&&", "||", "|", "&"})
SCRIPT = re.compile(r"[^-].*\.(py|ipynb|sh|bash|r|R|jl|js|mjs|pl|rb|lua)")
# programs that run a module given with -m: python, python3.11, pythonw; torchrun -m
MODULE_RUNNERS = re.compile(r"(python[0-9.]*w?|torchrun)")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
LANGUAGES = {"py": "python", "ipynb": "python", "sh": "shell", "bash": "shell", "r": "R", "R": "R", "jl": "julia"}
UNKNOWN = "unknown"


@dataclass(frozen=True)
class EntryPoint:
    name: str  # the job's name within its project: a script, a module or a program
    language: str  # as far as the name tells: python, shell, R, julia, or "unknown"
    found: bool = True  # False when only a program's name was left (echo, exit)


def entry_point(command: Sequence[str]) -> EntryPoint:
    """What a command runs, in this order: the module of `-m MODULE` (python, torchrun); the first
    argument that names a script (`.py`, `.sh`, `.R`, `.jl`, …: `python -u src/train.py` gives
    `src/train.py`); for a shell's `-c STRING`, the first command of STRING that names a script or a
    module, else its first program; else the program's own name (`echo`). `env` and VAR=value words
    before the program are skipped; a relative path is kept as written, normalised (`./train.py` is
    `train.py`), and an absolute one keeps only its file name, so the name is the same in every runtime."""
    args = list(command)
    while args and (args[0] == "env" or _ASSIGNMENT.fullmatch(args[0])):
        args.pop(0)
    if not args:
        return EntryPoint("run", UNKNOWN, False)
    program = posixpath.basename(args[0]) or args[0]
    if program in SHELLS and "-c" in args[1:]:
        script = args[args.index("-c", 1) + 1 :][:1]
        return _in_shell(script[0]) if script else EntryPoint(program, "shell", False)
    if MODULE_RUNNERS.fullmatch(program):
        for i, arg in enumerate(args[1:-1], 1):
            if arg == "-m":
                return EntryPoint(args[i + 1], "python")
    for arg in args:
        if SCRIPT.fullmatch(arg):
            return EntryPoint(_path(arg), LANGUAGES.get(arg.rpartition(".")[2], UNKNOWN))
    return EntryPoint(program, "python" if MODULE_RUNNERS.fullmatch(program) else UNKNOWN, False)


def _in_shell(text: str) -> EntryPoint:
    try:
        words = shlex.split(text)
    except ValueError:  # unbalanced quotes: the shell refuses it too, but the run still needs a name
        words = text.split()
    commands: list[list[str]] = [[]]
    for word in words:
        if word in SHELL_OPERATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    entries = [entry_point(c) for c in commands if c]
    if not entries:
        return EntryPoint("sh", "shell", False)
    chosen = next((e for e in entries if e.found), entries[0])
    return chosen if chosen.found else EntryPoint(chosen.name, "shell", False)


def _path(arg: str) -> str:
    return posixpath.basename(arg) if arg.startswith("/") else posixpath.normpath(arg)
