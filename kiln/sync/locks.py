"""Locks of Python environments, made with uv: a requirements.txt or pyproject.toml resolved, for one Python
version, to exact versions with their hashes. The workstation locks (`kiln env create`); nodes install from
the lock with every hash required (kiln.agent.environments), so every node gets the same files.

uv (a Rust binary shipped as a Python package) resolves and installs in a fraction of pip's time
(`bench/environments.py` measures it beside `python -m venv && pip install`), checks every hash, and here never
downloads a Python (UV_PYTHON_DOWNLOADS=never): an environment uses a Python its machine has.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kiln.core import limits
from kiln.core.environments import DEFINITION, PYTHON_VERSION
from kiln.core.errors import InvalidArgument

Log = Callable[[str], None]  # one line of build log at a time


@dataclass(frozen=True)
class IndexSettings:
    """Where packages come from: an index, folders or pages of wheels, or only those (no_index). uv's own
    configuration (uv.toml, UV_INDEX_URL, UV_FIND_LINKS…) applies beneath these."""

    index_url: str = ""
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def uv_args(self) -> list[str]:
        args = ["--index-url", self.index_url] if self.index_url else []
        for where in self.find_links:
            args += ["--find-links", where]
        return args + (["--no-index"] if self.no_index else [])


LOG_TAIL_LINES = 20  # of the build log, in a BuildFailed message
LINE_CHARS = 4096  # one log line at most; longer ones are cut
LOCATION = limits.Limit("package location", 4 * limits.KiB)


def index_args(index: IndexSettings) -> list[str]:
    """`index.uv_args()`, checked: each value becomes one argument of uv, and one that looks like an option
    (or holds a newline) would be read as something else."""
    values = (index.index_url, *index.find_links)
    if not all(isinstance(v, str) for v in values) or not isinstance(index.no_index, bool):
        raise InvalidArgument("invalid package index settings")
    for value in values:
        LOCATION.text(value)
        if value.startswith("-") or "\n" in value or "\r" in value:
            raise InvalidArgument(f"invalid package location {limits.preview(value)}")
    return index.uv_args()


class BuildFailed(Exception):
    """A build (or resolution, or image load) that failed: the message says what, then the last lines of
    its log, so the one error a person sees is enough to act on."""

    def __init__(self, what: str, tail: Iterable[str] = ()) -> None:
        self.what = what
        self.tail = [line for line in tail if line.strip()][-LOG_TAIL_LINES:]
        super().__init__(what + (":\n" + "\n".join(self.tail) if self.tail else ""))


class LogLines:
    """Passes text on to a Log a whole line at a time (each cut to LINE_CHARS) and keeps the last lines
    for the error message: the engine and uv send text in pieces that need not end at a newline."""

    def __init__(self, sink: Log | None) -> None:
        self._sink = sink
        self._partial = ""
        self.tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)

    def feed(self, text: str) -> None:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self.line(line)
        if len(self._partial) > LINE_CHARS:
            self.line(self._partial)
            self._partial = ""

    def line(self, line: str) -> None:
        line = line.rstrip("\r")[:LINE_CHARS]
        self.tail.append(line)
        if self._sink is not None:
            self._sink(line)

    def close(self) -> None:
        if self._partial:
            self.line(self._partial)
            self._partial = ""

    def failed(self, what: str) -> BuildFailed:
        self.close()
        return BuildFailed(what, self.tail)


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError as e:
        raise BuildFailed("uv is not installed here (pip install uv; Kiln's own install brings it)") from e
    return find_uv_bin()


def run_uv(cmd: list[str], lines: LogLines, cwd: Path | None = None, show_stdout: bool = True) -> int:
    """Runs a command, streaming its output (stdout too, unless it is not log) into `lines`."""
    lines.line("$ " + shlex.join(["uv" if i == 0 else c for i, c in enumerate(cmd)]))
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    out = subprocess.PIPE if show_stdout else subprocess.DEVNULL
    err = subprocess.STDOUT if show_stdout else subprocess.PIPE
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env) as proc:
        pipe = proc.stdout if show_stdout else proc.stderr
        assert pipe is not None
        for raw in iter(lambda: pipe.readline(LINE_CHARS), b""):
            lines.feed(raw.decode("utf-8", "replace"))
    lines.close()
    return proc.returncode


def check_python(python: str) -> None:
    if not PYTHON_VERSION.fullmatch(python):
        raise InvalidArgument(f"invalid Python version {limits.preview(python)}: use e.g. 3.11 or 3.11.2")


def check_lock(lock: str) -> str:
    """A lock holds pinned requirements with their hashes and comments, nothing else: an option line
    (`-r /etc/…`, `--index-url …`, `-e .`) would make the node read files or indexes it was not asked to."""
    DEFINITION.text(lock, field="lock")
    for line in lock.replace("\\\n", " ").splitlines():
        if any(w.startswith("-") and not w.startswith("--hash=") for w in line.split("#", 1)[0].split()):
            raise InvalidArgument(f"a lock holds only pinned requirements and their hashes, not {limits.preview(line)}")
    return lock


def resolve_lock(requirements: Path, python: str, index: IndexSettings, log: Log | None = None) -> str:
    """The lock of a requirements.txt or pyproject.toml: every package pinned with its hashes, as
    `uv pip compile --generate-hashes` writes it. Universal (with markers), since the client that resolves
    it may run another platform than the nodes that install it; uv runs in the file's folder so the lock's
    `# via` comments name the file alone, and the same file gives the same lock wherever it lies."""
    check_python(python)
    if not requirements.is_file():
        raise InvalidArgument(f"{requirements} is not a file")
    lines = LogLines(log)
    with tempfile.TemporaryDirectory(prefix="kiln-lock-") as tmp:
        out = Path(tmp) / "lock.txt"
        cmd = [uv_binary(), "pip", "compile", requirements.name, "--universal", "--generate-hashes", "--no-header"]
        cmd += ["--python-version", python, "--output-file", str(out), *index_args(index)]
        if run_uv(cmd, lines, cwd=requirements.parent, show_stdout=False) != 0 or not out.is_file():
            raise InvalidArgument(str(lines.failed(f"could not resolve {requirements.name} for Python {python}")))
        with out.open("rb") as f:
            raw = f.read(DEFINITION.most + 1)
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        raise InvalidArgument(f"{requirements.name} names no packages: an environment needs at least one")
    try:
        return check_lock(text)
    except InvalidArgument as e:
        raise InvalidArgument(f"the lock of {requirements.name} cannot be used: {e}") from e
