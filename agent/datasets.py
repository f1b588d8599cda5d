"""Dataset versions on a node: each materialised once under `data/datasets/<snapshot>`, shared read-only by
every run that reads it, and checked before each reuse, so no job can change what a version holds for the
runs after it.

Read-only is enforced where it can be: Docker binds a dataset read-only; the process runtime binds it
read-only in a mount namespace of the job's own where the agent may (runtimes/isolation.py). Where it
cannot (an unprivileged agent, whose jobs own the files and can chmod them back; namespaces turned off),
the check is what holds: at materialisation the agent records a fingerprint of the tree's `lstat` of every
entry (path, type, mode, size, mtime_ns, ctime_ns, inode: a job can set an mtime back, never a ctime) and
compares it before every use. That is a stat walk, no hashing, so a big dataset stays cheap to reuse.

A tree that changed is set aside (renamed `.<snapshot>.damaged-…`), a fresh copy is built aside from blobs
checked against their digests and renamed into place, and the next run reads that. A run still using the
damaged copy keeps it (a container's bind and a process's open files hold the folder they started with):
a damaged copy is removed once no other live job of this node's journal reads that snapshot.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from kiln.agent.spool import Spool
from kiln.agent.workspace import BlobCache, materialize
from kiln.client import Client
from kiln.core.atomic import atomic_write, building, remove_tree
from kiln.core.hashing import sha256_file
from kiln.core.manifest import validate

log = logging.getLogger("kiln.agent.datasets")

DAMAGED_TAG = "damaged"
EMPTY_FOLDER = ".empty"  # what /datasets is for a run that reads no dataset
SHARED_FORMAT = 1  # in a tree's record: made readable by every job user (_read_only)

InUse = Callable[[str], bool]


def dataset_folder(
    client: Client,
    cache: BlobCache,
    root: Path,
    project: str,
    snapshot: str,
    *,
    label: str = "",
    in_use: InUse = lambda _snapshot: False,
) -> Path:
    """The snapshot materialised under `root`, as it was made: built once (aside, then renamed, so never
    seen half-made), verified on every later call, and built again if a job changed it. `label` names the
    dataset version in the log; `in_use(snapshot)` says whether another live job reads that snapshot, which
    keeps damaged copies of it on disk for that job."""
    final = root / snapshot
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{snapshot}.lock"):
        if final.is_dir():
            recorded = _recorded(root, snapshot)
            if recorded and recorded == fingerprint(final):
                _remove_damaged(root, in_use)
                return final
            why = "changed since it was made" if recorded else "has no record of how it was made (or is an old copy)"
            log.warning("dataset %s (snapshot %s) on this node %s: making it again", label or "?", snapshot[:12], why)
            _set_aside(final)
            _drop_bad_blobs(client, cache, project, snapshot)
        _fingerprint_file(root, snapshot).unlink(missing_ok=True)
        # materialize's stat cache is of no use for a read-only dataset: it goes in a scratch folder
        with building(final, exist_ok=True) as tree, tempfile.TemporaryDirectory(prefix=".statcache-", dir=root) as sc:
            materialize(client, cache, project, snapshot, tree, Path(sc))
            _read_only(tree)
        # Taken once the tree has its final name (a rename moves the folder's ctime).
        record = {"fingerprint": fingerprint(final), "shared": SHARED_FORMAT}
        atomic_write(_fingerprint_file(root, snapshot), json.dumps(record).encode())
        _remove_damaged(root, in_use)
    return final


def empty_folder(root: Path) -> Path:
    """An empty read-only folder, for a run that reads no dataset: its KILN_DATASETS still names a folder."""
    folder = root / EMPTY_FOLDER
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{EMPTY_FOLDER}.lock"):
        folder.mkdir(exist_ok=True)
        if any(folder.iterdir()):  # a job without a mount namespace put something there
            remove_tree(folder)
            folder.mkdir()
        folder.chmod(0o555)
    return folder


def readers(spool: Spool, run_id: str, attempt: int) -> InUse:
    """in_use for the job (run_id, attempt): does another job of this node, not yet ended, read a snapshot?
    Every job is in the journal from its assignment on, so none that could hold a copy is missed."""

    def in_use(snapshot: str) -> bool:
        return any(
            j.final_seq == 0
            and (j.run_id, j.attempt) != (run_id, attempt)
            and any(d.snapshot == snapshot for d in j.assignment.datasets)
            for j in spool.jobs()
        )

    return in_use


def fingerprint(tree: Path) -> str:
    """A digest of the lstat of every entry under `tree` (itself included), in a fixed order."""
    h = hashlib.sha256()
    pending = [""]
    while pending:
        rel = pending.pop()
        path = os.path.join(tree, rel)
        st = os.lstat(path)
        line = f"{rel}\0{st.st_mode:o}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n"
        h.update(line.encode("utf-8", "surrogateescape"))
        if stat.S_ISDIR(st.st_mode):
            pending.extend(os.path.join(rel, name) for name in sorted(os.listdir(path), reverse=True))
    return h.hexdigest()


def _read_only(tree: Path) -> None:
    """Datasets are shared by runs: take write permission away (Docker also mounts them read-only, and the
    process runtime where it can; root ignores permissions, which is why trees are also verified), and give
    read permission to all, as jobs may run as users of their own (runtimes/jobuser.py): which runs read a
    dataset is Kiln's decision, not the pushed files' modes."""
    for path in [*tree.rglob("*"), tree]:
        if not path.is_symlink():
            readable = 0o555 if path.is_dir() else 0o444
            path.chmod((path.stat().st_mode | readable) & ~0o222)


def _fingerprint_file(root: Path, snapshot: str) -> Path:
    return root / f".{snapshot}.stat"


def _recorded(root: Path, snapshot: str) -> str:
    """The fingerprint taken when the tree was made, or "" when there is none or it is of a tree made before
    datasets were readable by every job user (an agent upgraded in place: such a copy kept the pushed files'
    modes, so a job of a user of its own could not read it, and it is made again)."""
    try:
        record = json.loads(_fingerprint_file(root, snapshot).read_text())
        return str(record["fingerprint"]) if record.get("shared") == SHARED_FORMAT else ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""


def _set_aside(final: Path) -> None:
    """Renames a damaged tree out of the way, in the same folder (a read-only folder cannot be moved to
    another one); a run that still reads it keeps it until it ends."""
    os.rename(final, final.with_name(f".{final.name}.{DAMAGED_TAG}-{secrets.token_hex(6)}"))


def _remove_damaged(root: Path, in_use: InUse) -> None:
    """Damaged copies that no other live job reads any more."""
    for aside in root.glob(f".*.{DAMAGED_TAG}-*"):
        snapshot = aside.name[1:].partition(f".{DAMAGED_TAG}-")[0]
        if not in_use(snapshot):
            remove_tree(aside)


def _drop_bad_blobs(client: Client, cache: BlobCache, project: str, snapshot: str) -> None:
    """A fresh copy is only as good as the cache it is made from: blobs of the snapshot that no longer match
    their digest are removed, so they are fetched again. Hashing, but only on this rare path."""
    _, entries = client.get_snapshot(snapshot, project)
    for entry in validate(entries):
        path = cache.path(entry.digest)
        if not entry.has_blob or not path.is_file():
            continue
        with open(path, "rb") as f:
            digest, _ = sha256_file(f)
        if digest != entry.digest:
            log.warning("cached blob %s did not match its digest: fetching it again", entry.digest[:12])
            path.unlink()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One job at a time checks or builds a snapshot's tree (each job its own open file, so threads too)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
