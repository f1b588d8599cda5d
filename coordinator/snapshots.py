"""Snapshots: finding what a push lacks, receiving verified blobs, recording immutable manifests."""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kiln.coordinator.access import require_blobs, require_project, require_snapshot
from kiln.coordinator.context import Coordinator
from kiln.core import clock, defaults, limits
from kiln.core.blobparts import BlobPart, pack
from kiln.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from kiln.core.hashing import is_digest, sha256_bytes
from kiln.core.manifest import Entry, Manifest, totals, validate
from kiln.core.models import Snapshot
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.paths import check_links
from kiln.core.permissions import Need, Principal
from kiln.core.units import format_bytes
from kiln.core.verified import VerifiedWriter

MAX_SYMLINK_TARGET = limits.SYMLINK_TARGET.most


def find_missing(ctx: Coordinator, who: Principal, project: str, blobs: list[tuple[str, int]]) -> list[str]:
    require_project(ctx.store, who, Need.WRITE, project)
    limits.MANIFEST_ENTRIES.check(blobs, field="blobs asked about")
    limit = ctx.config.max_upload_bytes
    for digest, size in blobs:
        if not is_digest(digest):
            raise InvalidArgument(f"not a SHA-256 digest: {digest[:80]!r}")
        if size > limit:
            raise ResourceExhausted(
                f"a file of {format_bytes(size)} (blob {digest[:12]}) is over this "
                f"coordinator's upload limit of {format_bytes(limit)}; "
                "add it to .kilnignore or ask an admin to raise --max-upload-bytes"
            )
    held = ctx.store.project_blobs(project, (d for d, _ in blobs))
    return list(dict.fromkeys(d for d, _ in blobs if d not in held))


# Verified blobs are made durable and recorded in batches of about this much (fewer filesystem syncs),
# and whenever the stream ends, however it ends.
FLUSH_BYTES = 32 * 1024 * 1024
FLUSH_BLOBS = 8192


class Finished(Protocol):
    """A verified blob in a temp file (a writer's, or one staged whole), not yet under its digest."""

    @property
    def digest(self) -> str: ...
    @property
    def size(self) -> int: ...
    def place(self) -> None: ...
    def abort(self) -> None: ...


@dataclass
class Upload:
    """State of one upload stream. Its steps run off the event loop one at a time; the lock keeps the
    clean-up of a cancelled stream from running beside the write still in flight.

    Durability, with one filesystem sync per batch: a batch's temp files are written (`pending`); one sync
    makes their data durable, and with it the names of the batch placed before (`placed`), which is only
    then recorded as held; then this batch is placed under its names, which the next sync makes durable.
    So a blob is recorded (and a snapshot may name it) only once its bytes and its name would survive a
    crash, and a blob file is never placed before its bytes are on the disk. The stream's end takes one
    more sync, for the last names."""

    ctx: Coordinator
    project: str
    writer: VerifiedWriter | None = None
    pending: list[Finished] = field(default_factory=list)
    pending_bytes: int = 0
    placed: list[Finished] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def consume(self, parts: Iterable[BlobPart]) -> None:
        with self.lock:
            for part in parts:
                self._part(part)
            if self.pending_bytes >= FLUSH_BYTES or len(self.pending) >= FLUSH_BLOBS:
                self._flush()

    def _part(self, part: BlobPart) -> None:
        if self.writer is None:
            if part.offset != 0:
                raise InvalidArgument(f"blob {part.digest[:12]} starts at offset {part.offset}, not 0")
            if part.last:  # a blob whole in one part, as small ones come: no writer needed
                self._finished(self.ctx.blobs.stage(part.digest, part.data, self.ctx.config.max_upload_bytes))
                self.received += len(part.data)
                return
            self.writer = self.ctx.blobs.writer(part.digest, self.ctx.config.max_upload_bytes)
        elif part.digest != self.writer.digest:
            raise InvalidArgument(f"blob {part.digest[:12]} began before blob {self.writer.digest[:12]} was finished")
        if part.offset != self.writer.size:
            raise InvalidArgument(f"blob {part.digest[:12]}: part at offset {part.offset}, expected {self.writer.size}")
        self.writer.write(part.data)
        self.received += len(part.data)
        if part.last:
            self.writer.finish()
            self._finished(self.writer)
            self.writer = None

    def _finished(self, blob: Finished) -> None:
        self.pending_bytes += blob.size
        self.pending.append(blob)

    def _flush(self, end: bool = False) -> None:
        """One sync: the pending blobs' bytes and the placed ones' names become durable; the placed ones are
        recorded as held, the pending ones placed. At the end, a second sync records those too."""
        if not (self.pending or self.placed):
            return
        try:
            self.ctx.blobs.sync()
        except BaseException:
            for blob in self.pending:
                blob.abort()
            self.pending, self.pending_bytes = [], 0
            raise
        self._record(self.placed)
        for blob in self.pending:
            blob.place()
        self.placed, self.pending, self.pending_bytes = self.pending, [], 0
        if end and self.placed:
            self.ctx.blobs.sync()
            self._record(self.placed)
            self.placed = []

    def _record(self, blobs: list[Finished]) -> None:
        if blobs:
            self.ctx.store.add_project_blobs(self.project, [(b.digest, b.size) for b in blobs])
            self.stored.extend(b.digest for b in blobs)

    def close(self) -> None:
        """End of stream, however it ended: verified blobs are kept (a retried push resumes after them),
        a partial one is dropped."""
        with self.lock:
            if self.writer is not None:
                self.writer.abort()
                self.writer = None
            self._flush(end=True)


def start_upload(ctx: Coordinator, who: Principal, project: str) -> Upload:
    """A new upload stream into `project`; its parts are given to `consume`, and `close` ends it."""
    require_project(ctx.store, who, Need.WRITE, project)
    return Upload(ctx, project)


@dataclass(frozen=True)
class NewSnapshot:
    """What a client asks to record: every entry, or the changes relative to a `base` snapshot."""

    entries: list[Entry]
    parent: str = ""
    message: str = ""
    expected_id: str = ""
    base: str = ""
    removed: tuple[str, ...] = ()


def create_snapshot(ctx: Coordinator, who: Principal, project: str, new: NewSnapshot) -> Snapshot:
    store = ctx.store
    require_project(store, who, Need.WRITE, project)
    limits.MESSAGE.text(new.message, field="snapshot message")
    limits.MANIFEST_ENTRIES.check(new.removed, field="removed paths")
    if new.base:
        base = store.manifest_form(project, new.base) if store.snapshot(project, new.base) is not None else None
        if base is None:
            raise NotFound(f"base snapshot {new.base[:12]} is not in project {project!r}")
        # The base was checked when it was recorded: only the changes are checked now, and its stored
        # form is spliced, so the cost grows with the changes rather than with the manifest.
        form = base.changed(new.entries, new.removed)
    else:
        form = Manifest(validate(new.entries))
    ordered = form.entries
    body = limits.MANIFEST_BYTES.check(form.body())
    snapshot_id = sha256_bytes(body)
    if new.expected_id and new.expected_id != snapshot_id:
        raise InvalidArgument(f"manifest digest is {snapshot_id}, not {new.expected_id} as the client computed")
    existing = store.snapshot(project, snapshot_id)
    if existing is not None:
        return existing
    if new.parent and store.snapshot(project, new.parent) is None:
        raise NotFound(f"parent snapshot {new.parent[:12]} is not in project {project!r}")
    _check_blobs(ctx, project, new.entries if new.base else ordered)
    if not new.base or any(e.kind == "symlink" for e in new.entries):  # a new link may redirect an old one
        _check_links(ctx, ordered)
    files, size = totals(ordered)
    snap = Snapshot(snapshot_id, project, new.parent, new.message, who.user, clock.now(), files, size)
    with store.transaction():
        store.add_snapshot(snap, body, form)
        store.append_audit(
            who.user,
            "snapshot.create",
            f"{project}/{snapshot_id}",
            {"files": files, "bytes": size, "parent": new.parent},
        )
    return snap


def _check_blobs(ctx: Coordinator, project: str, entries: list[Entry]) -> None:
    with_blobs = [e for e in entries if e.has_blob]
    held = ctx.store.project_blobs(project, (e.digest for e in with_blobs))
    missing = [e for e in with_blobs if e.digest not in held]
    if missing:
        raise FailedPrecondition(
            f"{len(missing)} file(s) reference blobs never uploaded to project {project!r}, first "
            f"{missing[0].path!r} ({missing[0].digest[:12]}); push again to upload them"
        )
    for e in with_blobs:
        if held[e.digest] != e.size:
            raise InvalidArgument(f"path {e.path!r} claims {e.size} bytes but its blob holds {held[e.digest]}")
        if e.kind == "symlink" and e.size > MAX_SYMLINK_TARGET:
            raise InvalidArgument(f"symlink {e.path!r} has a target longer than {MAX_SYMLINK_TARGET} bytes")


def _check_links(ctx: Coordinator, entries: list[Entry]) -> None:
    """Every symlink of the tree, followed through the tree as the OS would follow it, stays inside it
    (kiln.core.paths.check_links); the targets are the links' blobs, each read once."""
    targets: dict[str, str] = {}
    links: dict[str, str] = {}
    for e in entries:
        if e.kind == "symlink":
            if e.digest not in targets:
                with ctx.blobs.open(e.digest) as f:
                    targets[e.digest] = f.read(MAX_SYMLINK_TARGET + 1).decode("utf-8", "surrogateescape")
            links[e.path] = targets[e.digest]
    check_links(links)


def list_snapshots(ctx: Coordinator, who: Principal, project: str, page: PageRequest) -> Page[Snapshot]:
    """One page of the project's snapshots, newest first."""
    require_project(ctx.store, who, Need.READ, project)
    before = (float(page.after[0]), str(page.after[1])) if page.after else None
    return page_of(ctx.store.snapshots(project, before, page.size + 1), page.size, lambda s: (s.created_at, s.id))


def resolve_snapshot(ctx: Coordinator, who: Principal, project: str, ref: str) -> Snapshot:
    """The snapshot an id or unique prefix names, in `project` or in any project the caller may read."""
    ref = ref.strip().lower()
    if len(ref) < defaults.SNAPSHOT_ID_MIN_PREFIX or not all(c in "0123456789abcdef" for c in ref):
        raise InvalidArgument(f"snapshot id {ref!r} must be at least {defaults.SNAPSHOT_ID_MIN_PREFIX} hex digits")
    if project:
        require_project(ctx.store, who, Need.READ, project)
    found = [s for s in ctx.store.snapshots_matching(ref) if not project or s.project == project]
    if not found:
        where = f"project {project!r}" if project else "any project"
        raise NotFound(f"no snapshot {ref} in {where}")
    readable, refusal = [], ""
    for snap in found:
        try:
            require_snapshot(ctx.store, who, snap)
            readable.append(snap)
        except PermissionDenied as e:
            refusal = str(e)
    if not readable:
        if who.node:  # a node is told which rule refused it
            raise PermissionDenied(refusal)
        raise PermissionDenied(f"snapshot {ref} belongs to a project user {who.user!r} is not a member of")
    ids = {s.id for s in readable}
    if len(ids) > 1:
        raise InvalidArgument(f"snapshot prefix {ref} is ambiguous: {', '.join(sorted(i[:16] for i in ids))}")
    return readable[0]


def get_manifest(
    ctx: Coordinator, who: Principal, project: str, ref: str, page: PageRequest
) -> tuple[Snapshot, Page[Entry]]:
    """The snapshot and one page of its entries (sorted by path, as every manifest is)."""
    snap = resolve_snapshot(ctx, who, project, ref)
    entries = ctx.store.manifest(snap.project, snap.id)
    start = bisect.bisect_right(entries, str(page.after[0]), key=lambda e: e.path) if page.after else 0
    return snap, page_of(entries[start : start + page.size + 1], page.size, lambda e: (e.path,))


def read_blobs(ctx: Coordinator, who: Principal, project: str, digests: list[str]) -> Iterator[list[BlobPart]]:
    """Messages of blob parts packed up to the chunk size, for blobs the project holds (checked at once;
    the blobs are read as the messages are taken)."""
    wanted = list(dict.fromkeys(limits.MANIFEST_ENTRIES.check(digests, field="blobs asked for")))
    require_blobs(ctx.store, who, project, wanted)
    held = ctx.store.project_blobs(project, wanted)
    absent = [d for d in wanted if d not in held]
    if absent:
        raise NotFound(f"project {project!r} holds no blob {absent[0][:12]} ({len(absent)} missing)")
    return pack((d, functools.partial(ctx.blobs.open, d)) for d in wanted)
