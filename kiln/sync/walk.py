"""Walking a project folder, honouring .kilnignore and .gitignore files at every level."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pathspec

from kiln.core.errors import InvalidArgument
from kiln.core.paths import check_symlink_target

IGNORE_FILES = (".gitignore", ".kilnignore")  # later files win: .kilnignore can re-include what git ignores
ALWAYS_SKIPPED = frozenset({".git", ".kiln"})


@dataclass(frozen=True)
class LocalEntry:
    """A path found in the folder, with what its stat says (the digest comes later, from the cache)."""

    path: str  # relative, POSIX
    mode: int  # file type + permission bits
    size: int
    mtime_ns: int
    ino: int
    link_target: str = ""

    @property
    def kind(self) -> str:
        if stat.S_ISDIR(self.mode):
            return "dir"
        return "symlink" if stat.S_ISLNK(self.mode) else "file"


def _spec_for(directory: Path) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        f = directory / name
        if f.is_file():
            lines += f.read_text(errors="replace").splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _ignored(specs: list[tuple[str, pathspec.GitIgnoreSpec]], path: str, is_dir: bool) -> bool:
    decision = False
    for base, spec in specs:
        rel = path[len(base) + 1 :] if base else path
        result = spec.check_file(rel + "/" if is_dir else rel)
        if result.include is not None:
            decision = result.include
    return decision


def walk(root: Path) -> list[LocalEntry]:
    """Every directory, file and symlink under `root` that is not ignored, sorted by path.

    Refuses what a snapshot cannot hold rather than dropping it silently: devices, fifos, sockets, and
    symlinks that point outside the folder (ignore them to push the rest).
    """
    if not root.is_dir():
        raise InvalidArgument(f"{root} is not a folder")
    found: list[LocalEntry] = []
    stack: list[tuple[Path, str, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [(root, "", [])]
    while stack:
        directory, rel_dir, specs = stack.pop()
        spec = _spec_for(directory)
        if spec is not None:
            specs = [*specs, (rel_dir, spec)]
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda d: d.name)
        for child in children:
            rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
            st = child.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if (is_dir and child.name in ALWAYS_SKIPPED) or _ignored(specs, rel, is_dir):
                continue
            mode = stat.S_IFMT(st.st_mode) | stat.S_IMODE(st.st_mode) & 0o777
            if is_dir:
                found.append(LocalEntry(rel, mode, 0, st.st_mtime_ns, st.st_ino))
                stack.append((Path(child.path), rel, specs))
            elif stat.S_ISREG(st.st_mode):
                found.append(LocalEntry(rel, mode, st.st_size, st.st_mtime_ns, st.st_ino))
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(child.path)
                try:
                    check_symlink_target(rel, target)
                except InvalidArgument as e:
                    raise InvalidArgument(f"{e}; add it to .kilnignore to push the rest") from None
                size = len(target.encode("utf-8", "surrogateescape"))
                found.append(LocalEntry(rel, mode, size, st.st_mtime_ns, st.st_ino, target))
            else:
                raise InvalidArgument(
                    f"{rel!r} is a device, fifo or socket, which a snapshot cannot hold; "
                    "add it to .kilnignore"
                )
    found.sort(key=lambda e: e.path)
    return found
