"""Walking a folder by a set of rules: honouring .kilnignore and .gitignore files at every level for a push
(what goes in), or .kilnoutputignore and a few caches for a run's outputs (what comes out)."""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from kiln.core.errors import InvalidArgument
from kiln.core.paths import check_symlink_target

if TYPE_CHECKING:
    import pathspec

IGNORE_FILES = (".gitignore", ".kilnignore")  # later files win: .kilnignore can re-include what git ignores
OUTPUT_IGNORE_FILE = ".kilnoutputignore"
# Left out of a run's outputs unless a .kilnoutputignore re-includes them ("!__pycache__/").
OUTPUT_CACHES = ("__pycache__/", ".ipynb_checkpoints/")
ALWAYS_SKIPPED = frozenset({".git", ".kiln"})

Specs = tuple[tuple[str, "pathspec.GitIgnoreSpec"], ...]


@dataclass(frozen=True)
class Rules:
    """What a walk leaves out: the patterns of `files` found at every level (gitignore syntax; deeper and
    later files win), after `defaults` (patterns as if in a file at the top, so those files can re-include
    with `!`). Paths in `keep` are never left out, nor what lies under them, nor the folders leading to
    them: what a run logged is an output whatever the patterns say. `hint` is the file errors name."""

    files: tuple[str, ...]
    defaults: tuple[str, ...] = ()
    keep: frozenset[str] = field(default_factory=frozenset)
    hint: str = ".kilnignore"

    @functools.cached_property
    def _reach(self) -> frozenset[str]:
        """The kept paths and every folder above them."""
        found = set(self.keep)
        for path in self.keep:
            while "/" in path:
                path = path.rsplit("/", 1)[0]
                found.add(path)
        return frozenset(found)

    def kept(self, path: str) -> bool:
        if not self.keep:
            return False
        if path in self._reach:
            return True
        while "/" in path:
            path = path.rsplit("/", 1)[0]
            if path in self.keep:
                return True
        return False


PUSH_RULES = Rules(IGNORE_FILES)


def output_rules(keep: Iterable[str] = ()) -> Rules:
    """A run's outputs: everything it left in its folder but caches and what .kilnoutputignore files name
    (push rules decide what goes in, not what comes out); `keep` are the paths the run logged."""
    return Rules((OUTPUT_IGNORE_FILE,), OUTPUT_CACHES, frozenset(keep), OUTPUT_IGNORE_FILE)


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


def _spec_for(files: list[os.DirEntry[str]]) -> pathspec.GitIgnoreSpec | None:
    """The patterns of a folder's ignore files (given in the order they apply), if it has any. pathspec is
    imported only here: a folder with no ignore file costs neither the import nor any matching."""
    lines: list[str] = []
    for f in files:
        if f.is_file():
            with open(f.path, errors="replace") as text:
                lines += text.read().splitlines()
    if not lines:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _defaults(rules: Rules) -> Specs:
    if not rules.defaults:
        return ()
    import pathspec

    return (("", pathspec.GitIgnoreSpec.from_lines(rules.defaults)),)


def _ignored(specs: Specs, path: str, is_dir: bool) -> bool:
    decision = False
    for base, spec in specs:
        rel = path[len(base) + 1 :] if base else path
        result = spec.check_file(rel + "/" if is_dir else rel)
        if result.include is not None:
            decision = result.include
    return decision


def walk(
    root: str | os.PathLike[str],
    rules: Rules = PUSH_RULES,
    excluded: list[str] | None = None,
    unsupported: list[tuple[str, str]] | None = None,
) -> list[LocalEntry]:
    """Every directory, file and symlink under `root` that `rules` do not leave out (in no particular
    order). Where `excluded` is given, the paths the rules left out are appended to it (a folder once, not
    what is under it).

    What a snapshot cannot hold (devices, fifos, sockets, symlinks that point outside the folder) is
    refused rather than dropped silently (ignore it to push the rest), or, where `unsupported` is given,
    left out and appended to it as (path, why): a run's outputs are saved without a link its program made
    to a dataset, and its reason names what was left out."""
    top = os.fspath(root)
    if not os.path.isdir(top):
        raise InvalidArgument(f"{top} is not a folder")
    found: list[LocalEntry] = []
    make = tuple.__new__  # builds the named tuples without their Python-level __new__: the walk is hot
    stack: list[tuple[str, str, Specs]] = [(top, "", _defaults(rules))]
    while stack:
        directory, rel_dir, specs = stack.pop()
        with os.scandir(directory) as it:
            children = list(it)
        # the folder's own ignore files, found in its listing (no stat for the folders without any)
        own = [c for c in children if c.name in rules.files]
        if own:
            own.sort(key=lambda c: rules.files.index(c.name))
            spec = _spec_for(own)
            if spec is not None:
                specs = (*specs, (rel_dir, spec))
        prefix = rel_dir + "/" if rel_dir else ""
        for child in children:
            rel = prefix + child.name
            st = child.stat(follow_symlinks=False)
            kind = st.st_mode & 0o170000
            is_dir = kind == stat.S_IFDIR
            if is_dir and child.name in ALWAYS_SKIPPED:
                continue
            if specs and _ignored(specs, rel, is_dir) and not rules.kept(rel):
                if excluded is not None:
                    excluded.append(rel)
                continue
            mode = kind | (st.st_mode & 0o777)
            if kind == stat.S_IFREG:
                found.append(make(LocalEntry, (rel, mode, st.st_size, st.st_mtime_ns, st.st_ino, "")))
            elif is_dir:
                found.append(make(LocalEntry, (rel, mode, 0, st.st_mtime_ns, st.st_ino, "")))
                stack.append((child.path, rel, specs))
            elif kind == stat.S_IFLNK:
                try:
                    found.append(_link(child.path, rel, mode, st, rules.hint))
                except InvalidArgument:
                    if unsupported is None:
                        raise
                    unsupported.append((rel, "a link that points outside the folder"))
            elif unsupported is not None:
                unsupported.append((rel, "a device, fifo or socket"))
            else:
                raise InvalidArgument(
                    f"{rel!r} is a device, fifo or socket, which a snapshot cannot hold; add it to {rules.hint}"
                )
    return found


def _link(abspath: str, rel: str, mode: int, st: os.stat_result, hint: str) -> LocalEntry:
    target = os.readlink(abspath)
    try:
        check_symlink_target(rel, target)
    except InvalidArgument as e:
        raise InvalidArgument(f"{e}; add it to {hint} to leave it out") from None
    size = len(target.encode("utf-8", "surrogateescape"))
    return LocalEntry(rel, mode, size, st.st_mtime_ns, st.st_ino, target)
