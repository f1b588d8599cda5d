"""Walking a project folder, honouring .kilnignore and .gitignore files at every level."""

from __future__ import annotations

import os
import stat
from typing import NamedTuple

import pathspec

from kiln.core.errors import InvalidArgument
from kiln.core.paths import check_symlink_target

IGNORE_FILES = (".gitignore", ".kilnignore")  # later files win: .kilnignore can re-include what git ignores
ALWAYS_SKIPPED = frozenset({".git", ".kiln"})

Specs = tuple[tuple[str, pathspec.GitIgnoreSpec], ...]


class LocalEntry(NamedTuple):
    """A path found in the folder, with what its stat says (the digest comes later, from the cache)."""

    path: str  # relative, POSIX
    mode: int  # file type + permission bits
    size: int
    mtime_ns: int
    ino: int
    link_target: str = ""

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)


def _spec_for(directory: str) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                lines += f.read().splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _ignored(specs: Specs, path: str, is_dir: bool) -> bool:
    decision = False
    for base, spec in specs:
        rel = path[len(base) + 1 :] if base else path
        result = spec.check_file(rel + "/" if is_dir else rel)
        if result.include is not None:
            decision = result.include
    return decision


def walk(root: str | os.PathLike[str]) -> list[LocalEntry]:
    """Every directory, file and symlink under `root` that is not ignored (in no particular order).

    Refuses what a snapshot cannot hold rather than dropping it silently: devices, fifos, sockets, and
    symlinks that point outside the folder (ignore them to push the rest).
    """
    top = os.fspath(root)
    if not os.path.isdir(top):
        raise InvalidArgument(f"{top} is not a folder")
    found: list[LocalEntry] = []
    make = tuple.__new__  # builds the named tuples without their Python-level __new__: the walk is hot
    stack: list[tuple[str, str, Specs]] = [(top, "", ())]
    while stack:
        directory, rel_dir, specs = stack.pop()
        spec = _spec_for(directory)
        if spec is not None:
            specs = (*specs, (rel_dir, spec))
        prefix = rel_dir + "/" if rel_dir else ""
        with os.scandir(directory) as it:
            for child in it:
                rel = prefix + child.name
                st = child.stat(follow_symlinks=False)
                kind = st.st_mode & 0o170000
                is_dir = kind == stat.S_IFDIR
                if (is_dir and child.name in ALWAYS_SKIPPED) or (specs and _ignored(specs, rel, is_dir)):
                    continue
                mode = kind | (st.st_mode & 0o777)
                if kind == stat.S_IFREG:
                    found.append(make(LocalEntry, (rel, mode, st.st_size, st.st_mtime_ns, st.st_ino, "")))
                elif is_dir:
                    found.append(make(LocalEntry, (rel, mode, 0, st.st_mtime_ns, st.st_ino, "")))
                    stack.append((child.path, rel, specs))
                elif kind == stat.S_IFLNK:
                    found.append(_link(child.path, rel, mode, st))
                else:
                    raise InvalidArgument(
                        f"{rel!r} is a device, fifo or socket, which a snapshot cannot hold; "
                        "add it to .kilnignore"
                    )
    return found


def _link(abspath: str, rel: str, mode: int, st: os.stat_result) -> LocalEntry:
    target = os.readlink(abspath)
    try:
        check_symlink_target(rel, target)
    except InvalidArgument as e:
        raise InvalidArgument(f"{e}; add it to .kilnignore to push the rest") from None
    size = len(target.encode("utf-8", "surrogateescape"))
    return LocalEntry(rel, mode, size, st.st_mtime_ns, st.st_ino, target)
