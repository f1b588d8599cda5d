"""The one path-safety check: every path that crosses a boundary (manifests, pulls, archives) passes here."""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Mapping

from kiln.core import limits
from kiln.core.errors import InvalidArgument

MAX_PATH_BYTES = limits.PATH.most
PERMISSION_BITS = 0o777
ALLOWED_TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def check_relpath(path: str) -> str:
    """Returns `path` if it is a clean relative POSIX path inside a tree; raises InvalidArgument otherwise."""
    if not path:
        raise InvalidArgument("empty path in manifest")
    if "\x00" in path:
        raise InvalidArgument(f"path {limits.preview(path)} contains a NUL character")
    limits.PATH.check(_encoded(path), path)
    if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise InvalidArgument(f"path {path!r} is absolute; snapshot paths must be relative to the folder")
    parts = path.split("/")
    if ".." in parts:
        raise InvalidArgument(f"path {path!r} contains '..'; snapshot paths must stay inside the folder")
    if any(p in ("", ".") for p in parts):
        raise InvalidArgument(f"path {path!r} is not normalised (empty or '.' component)")
    for part in parts:
        if len(part) > limits.PATH_COMPONENT.most // 4:  # only a long one can be too many bytes
            limits.PATH_COMPONENT.check(_encoded(part), part, f"path {limits.preview(path)}: component")
    return path


def _encoded(text: str) -> bytes:
    """The bytes a name takes on disk: names read from disk carry undecodable bytes as surrogate escapes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def check_symlink_target(path: str, target: str) -> str:
    """Returns `target` if the link at `path` resolves inside the tree; raises InvalidArgument otherwise."""
    if not target or "\x00" in target:
        raise InvalidArgument(f"symlink {path!r} has an empty or invalid target")
    limits.SYMLINK_TARGET.check(_encoded(target), path)
    if target.startswith("/"):
        raise InvalidArgument(f"symlink {path!r} points to absolute path {target!r}, outside the folder")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise InvalidArgument(f"symlink {path!r} points to {target!r}, outside the folder")
    return target


def check_links(links: Mapping[str, str]) -> None:
    """Refuses any symlink of a tree (path -> target, every symlink in it) that leads out of the tree when
    followed as the OS follows it: through links to links and through symlinked folders, where `..` goes up
    from where a link points, not from where it sits (`up -> ..` in `sub/`, then `x -> sub/up/..`). Links
    that loop, or chain deeper than the OS follows, are refused as the OS would (ELOOP). Each target is
    also checked on its own text. Each link is resolved once, so the work grows with the targets' length."""
    for path, target in links.items():
        check_symlink_target(path, target)
    resolved: dict[str, tuple[str, int]] = {}
    for path in links:
        _resolve(path, links, resolved, ())


def resolve_link(path: str, links: Mapping[str, str]) -> str:
    """Where the link at `path` leads, relative to the tree's root ("" is the root), following `links`."""
    return _resolve(path, links, {}, ())[0]


def _resolve(
    path: str, links: Mapping[str, str], resolved: dict[str, tuple[str, int]], chain: tuple[str, ...]
) -> tuple[str, int]:
    """(where the link at `path` leads, how many more links the OS follows to get there), following the
    target component by component. Past a component that is not in the tree, the rest can only be read as
    text (the OS would stop there, but a pull or a job could create it), so it must stay inside too."""
    if path in resolved:
        return resolved[path]
    if path in chain:
        raise InvalidArgument(f"symlink {chain[0]!r} loops (through {path!r})")
    if len(chain) >= limits.SYMLINK_HOPS:  # its head would be refused anyway: stop before the stack runs out
        raise InvalidArgument(f"symlink {chain[0]!r} chains through more than {limits.SYMLINK_HOPS} links")
    target = links[path]
    if target.startswith("/"):
        raise InvalidArgument(f"symlink {path!r} points to absolute path {limits.preview(target)}, outside the folder")
    here = path.split("/")[:-1]  # the folder the link sits in
    hops = 0
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not here:
                raise InvalidArgument(f"symlink {path!r} -> {target!r}, followed, leads outside the folder")
            here.pop()
            continue
        step = "/".join([*here, part])
        if step in links:  # a link on the way: go on from where it leads
            reached, more = _resolve(step, links, resolved, (*chain, path))
            hops += 1 + more
            if hops >= limits.SYMLINK_HOPS:
                raise InvalidArgument(f"symlink {path!r} chains through more than {limits.SYMLINK_HOPS} links")
            here = reached.split("/") if reached else []
        else:
            here.append(part)
    resolved[path] = ("/".join(here), hops)
    return resolved[path]


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
