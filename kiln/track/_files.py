"""Where logged files end up. Artifacts and models travel in the run's output snapshot, which holds only
the working directory, so what lies outside it is copied in first and every record is a path relative to
the working directory. Copies are made at once, in the caller's thread: the file is safe from later
changes the moment the call returns, and no network is involved."""

from __future__ import annotations

import os
import shutil
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]


def workdir() -> str:
    """The run's working directory (KILN_WORKDIR, set by the agent; else the current directory)."""
    return os.path.realpath(os.environ.get("KILN_WORKDIR") or os.getcwd())


def place(path: PathLike, name: str | None, folder: str, what: str) -> str:
    """Returns the working-directory-relative POSIX path under which `path` is recorded, copying it to
    `<workdir>/<folder>/<name or basename>` first when it lies outside the working directory."""
    try:
        given = os.fspath(path)
    except TypeError:
        raise ValueError(f"kiln.track: {what} path must be a str or path, not {type(path).__name__}") from None
    if not isinstance(given, str) or not given:
        raise ValueError(f"kiln.track: {what} path must be a non-empty str or path")
    root = workdir()
    source = os.path.realpath(given)
    if not os.path.exists(source):
        shown = _shown(given, source, root)
        raise FileNotFoundError(f"kiln.track: cannot log {what} {shown}: no such file or folder")
    if source == root:
        raise ValueError(f"kiln.track: cannot log the whole working directory {root!r} as {what}")
    if os.path.commonpath([source, root]) == root:
        return _relative(source, root)
    target = os.path.join(root, folder, _check_name(name, os.path.basename(source), what))
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=False, dirs_exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    return _relative(target, root)


def _check_name(name: str | None, default: str, what: str) -> str:
    """A relative path that stays inside the folder it is copied to."""
    if name is None:
        return default
    if not isinstance(name, str) or not name:
        raise ValueError(f"kiln.track: {what} name must be a non-empty str")
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"kiln.track: {what} name {name!r} must be a relative path without '.', '..' or empty parts")
    return os.path.join(*parts)


def _shown(given: str, source: str, root: str) -> str:
    """A path as the run's folder sees it (relative to it, as it is recorded) where it lies inside, else
    as given."""
    if source != root and os.path.commonpath([source, root]) == root:
        return f"{_relative(source, root)} (in the run folder)"
    return repr(given)


def _relative(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
