"""The one path-safety check: every path that crosses a boundary (manifests, pulls, archives) passes here."""

from __future__ import annotations

import posixpath
import stat

from kiln.core.errors import InvalidArgument

MAX_PATH_BYTES = 4096
PERMISSION_BITS = 0o777
ALLOWED_TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def check_relpath(path: str) -> str:
    """Returns `path` if it is a clean relative POSIX path inside a tree; raises InvalidArgument otherwise."""
    if not path:
        raise InvalidArgument("empty path in manifest")
    if "\x00" in path or len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise InvalidArgument(f"path {path[:80]!r} contains NUL or is longer than {MAX_PATH_BYTES} bytes")
    if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise InvalidArgument(f"path {path!r} is absolute; snapshot paths must be relative to the folder")
    parts = path.split("/")
    if ".." in parts:
        raise InvalidArgument(f"path {path!r} contains '..'; snapshot paths must stay inside the folder")
    if any(p in ("", ".") for p in parts):
        raise InvalidArgument(f"path {path!r} is not normalised (empty or '.' component)")
    return path


def check_symlink_target(path: str, target: str) -> str:
    """Returns `target` if the link at `path` resolves inside the tree; raises InvalidArgument otherwise."""
    if not target or "\x00" in target:
        raise InvalidArgument(f"symlink {path!r} has an empty or invalid target")
    if target.startswith("/"):
        raise InvalidArgument(f"symlink {path!r} points to absolute path {target!r}, outside the folder")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise InvalidArgument(f"symlink {path!r} points to {target!r}, outside the folder")
    return target


def file_kind(path: str, mode: int) -> str:
    """ "file", "dir" or "symlink" for an allowed mode; raises InvalidArgument for devices, fifos, sockets."""
    kind = ALLOWED_TYPES.get(stat.S_IFMT(mode))
    if kind is None:
        raise InvalidArgument(
            f"path {path!r} has mode {mode:o}: a device, fifo or socket; "
            "snapshots hold only files, directories and symlinks"
        )
    if stat.S_IMODE(mode) & ~PERMISSION_BITS:
        raise InvalidArgument(f"path {path!r} has setuid, setgid or sticky bits ({mode:o}); remove them")
    return kind
