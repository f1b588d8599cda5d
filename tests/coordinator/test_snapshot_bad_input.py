"""Every bad input to the snapshot service is refused with a clear error and leaves the store as it was."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from kiln.core.blobparts import BlobPart
from kiln.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from kiln.core.hashing import sha256_bytes
from kiln.core.manifest import Entry, manifest_id, validate
from tests.conftest import login, start_coordinator, wait_until

FILE = stat.S_IFREG | 0o644
LINK = stat.S_IFLNK | 0o777


def state(data_dir):
    """Everything a refused call must not change: tables and blob files."""
    with sqlite3.connect(data_dir / "kiln.db") as db:
        tables = {
            t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("snapshots", "blobs", "project_blobs", "projects", "members")
        }
    files = sorted(p.relative_to(data_dir).as_posix() for p in (data_dir / "blobs").rglob("*") if p.is_file())
    return tables, files


def upload(client, project, data: bytes, digest: str | None = None) -> str:
    digest = digest or sha256_bytes(data)
    client.upload_blobs(project, [[BlobPart(digest, 0, data, True)]])
    return digest


@pytest.fixture
def setup(coordinator, admin):
    admin.create_project("p")
    good = upload(admin, "p", b"hello")
    admin.create_snapshot("p", [Entry("hello.txt", FILE, 5, good)])
    return coordinator.ctx.config.data_dir, good


@pytest.mark.parametrize(
    "entry, message",
    [
        (lambda d: Entry("/etc/cron.d/evil", FILE, 5, d), "absolute"),
        (lambda d: Entry("../outside.txt", FILE, 5, d), r"'\.\.'"),
        (lambda d: Entry("a/../../outside.txt", FILE, 5, d), r"'\.\.'"),
        (lambda d: Entry("dev/sda", stat.S_IFBLK | 0o600, 0, d), "device"),
        (lambda d: Entry("tty", stat.S_IFCHR | 0o600, 0, d), "device"),
    ],
)
def test_unsafe_manifest_paths_are_refused(admin, setup, entry, message):
    data, good = setup
    before = state(data)
    with pytest.raises(InvalidArgument, match=message):
        admin.create_snapshot("p", [Entry("ok.txt", FILE, 5, good), entry(good)])
    assert state(data) == before


@pytest.mark.parametrize("target", ["/etc/shadow", "../../etc", "a/../../x"])
def test_a_symlink_leading_out_of_the_tree_is_refused(admin, setup, target):
    data, good = setup
    link_blob = upload(admin, "p", target.encode())
    before = state(data)
    with pytest.raises(InvalidArgument, match="outside the folder"):
        admin.create_snapshot("p", [Entry("l", LINK, len(target), link_blob)])
    assert state(data) == before


def test_a_blob_that_does_not_match_its_digest_is_refused(admin, setup):
    data, _ = setup
    before = state(data)
    claimed = sha256_bytes(b"what I promised")
    with pytest.raises(InvalidArgument, match="does not match its content"):
        upload(admin, "p", b"something else", digest=claimed)
    wait_until(lambda: state(data) == before, what="the store to be as it was")
    assert admin.find_missing_blobs("p", [(claimed, 15)]) == [claimed]


def test_a_snapshot_referencing_a_blob_never_uploaded_is_refused(admin, setup):
    data, good = setup
    before = state(data)
    with pytest.raises(FailedPrecondition, match="never uploaded.*'ghost.bin'"):
        admin.create_snapshot("p", [Entry("ok.txt", FILE, 5, good), Entry("ghost.bin", FILE, 9, "e" * 64)])
    assert state(data) == before


def test_a_blob_uploaded_to_another_project_is_not_usable_here(admin, setup):
    data, good = setup
    admin.create_project("q")
    with pytest.raises(FailedPrecondition, match="never uploaded"):
        admin.create_snapshot("q", [Entry("borrowed.txt", FILE, 5, good)])


def test_a_size_that_lies_about_the_blob_is_refused(admin, setup):
    data, good = setup
    before = state(data)
    with pytest.raises(InvalidArgument, match="claims 6 bytes"):
        admin.create_snapshot("p", [Entry("hello.txt", FILE, 6, good)])
    assert state(data) == before


def test_uploads_over_the_size_limit_are_refused(tmp_path):
    rc = start_coordinator(tmp_path / "small", max_upload_bytes=1000)
    try:
        client = login(rc, "admin", "admin-password-1")
        client.create_project("p")
        before = state(rc.ctx.config.data_dir)
        big = b"x" * 1500
        with pytest.raises(ResourceExhausted, match="over this coordinator's upload limit"):
            client.find_missing_blobs("p", [(sha256_bytes(big), len(big))])
        with pytest.raises(ResourceExhausted, match="upload limit"):
            upload(client, "p", big)
        wait_until(lambda: state(rc.ctx.config.data_dir) == before, what="the store to be as it was")
        client.close()
    finally:
        rc.stop()


def test_a_reader_who_is_not_a_member_is_refused(admin, setup, make_user):
    data, good = setup
    snap = admin.list_snapshots("p")[0]
    eve = make_user("eve")
    for call in (
        lambda: eve.list_snapshots("p"),
        lambda: eve.get_snapshot(snap.id),
        lambda: eve.get_snapshot(snap.id, "p"),
        lambda: list(eve.read_blobs("p", [good])),
    ):
        with pytest.raises(PermissionDenied, match="not a member"):
            call()


def test_a_viewer_reads_but_cannot_write(admin, setup, make_user):
    data, good = setup
    viewer = make_user("vic", "p", "viewer")
    assert b"".join(p.data for p in viewer.read_blobs("p", [good])) == b"hello"
    before = state(data)
    with pytest.raises(PermissionDenied, match="editor or above"):
        upload(viewer, "p", b"new")
    with pytest.raises(PermissionDenied, match="editor or above"):
        viewer.create_snapshot("p", [Entry("hello.txt", FILE, 5, good), Entry("x", FILE, 5, good)])
    assert state(data) == before


def test_a_snapshot_described_as_changes_is_checked_and_recorded(admin, setup):
    data, good = setup
    base = admin.list_snapshots("p")[0]
    other = upload(admin, "p", b"other")
    snap = admin.create_snapshot("p", [Entry("new.txt", FILE, 5, other)], base.id, base=base.id)
    _, entries = admin.get_snapshot(snap.id)
    assert [e.path for e in entries] == ["hello.txt", "new.txt"] and snap.parent == base.id
    before = state(data)
    with pytest.raises(InvalidArgument, match="not in the base"):
        admin.create_snapshot("p", [], base=base.id, removed=["ghost.txt"])
    with pytest.raises(InvalidArgument, match="lies below file"):
        admin.create_snapshot("p", [Entry("hello.txt/x", FILE, 5, good)], base=base.id)
    with pytest.raises(FailedPrecondition, match="never uploaded"):
        admin.create_snapshot("p", [Entry("x.bin", FILE, 9, "e" * 64)], base=base.id)
    with pytest.raises(NotFound, match="base snapshot"):
        admin.create_snapshot("p", [], base="f" * 64)
    assert state(data) == before


def test_a_snapshot_described_as_changes_gets_the_id_of_its_full_description(admin, setup, coordinator):
    _, good = setup
    other = upload(admin, "p", b"other")
    tree = [Entry("d", stat.S_IFDIR | 0o755)] + [Entry(f"d/f{i}", FILE, 5, good) for i in range(50)]
    base = admin.create_snapshot("p", [Entry("hello.txt", FILE, 5, good), *tree])
    changes, removed = [Entry("d/f3", FILE, 5, other), Entry("d/new", FILE, 5, other)], ["d/f7", "hello.txt"]
    full = [e for e in tree if e.path not in ("d/f3", "d/f7")] + changes
    coordinator.ctx.store._manifests = None  # the base read back from the database, not from memory
    delta = admin.create_snapshot("p", changes, base=base.id, removed=removed)
    again = admin.create_snapshot("p", [Entry("d/f9", FILE, 5, other)], base=delta.id)  # a base kept in memory
    assert delta.id == manifest_id(full) and admin.create_snapshot("p", full).id == delta.id
    last = [Entry("d/f9", FILE, 5, other) if e.path == "d/f9" else e for e in full]
    assert again.id == manifest_id(last) and admin.get_snapshot(again.id)[1] == validate(last)


def _links(admin, targets: dict[str, str]) -> list[Entry]:
    """Symlink entries (path -> target), their targets uploaded as blobs."""
    return [Entry(path, LINK, len(t.encode()), upload(admin, "p", t.encode())) for path, t in targets.items()]


@pytest.mark.parametrize(
    "targets",
    [
        {"sub/up": "..", "x": "sub/up/.."},  # `..` after a symlinked folder goes up from where it points
        {"here": ".", "a": "b", "b": "here/../etc"},  # a link to a link that leaves the tree
        {"sub/deep/d": "../../sub", "y": "sub/deep/d/../../.."},
    ],
    ids=["through a symlinked folder", "a link to a link that leaves", "deeper"],
)
def test_a_symlink_that_leaves_the_tree_when_followed_is_refused(admin, setup, targets):
    data, good = setup
    entries = [Entry("sub", stat.S_IFDIR | 0o755), *_links(admin, targets)]
    if any(p.startswith("sub/deep/") for p in targets):
        entries.insert(1, Entry("sub/deep", stat.S_IFDIR | 0o755))
    before = state(data)
    with pytest.raises(InvalidArgument, match="followed, leads outside the folder"):
        admin.create_snapshot("p", entries)
    assert state(data) == before


def test_symlinks_that_loop_are_refused_and_those_that_stay_inside_are_kept(admin, setup):
    data, good = setup
    loop = _links(admin, {"l1": "l2", "l2": "l1"})
    before = state(data)
    with pytest.raises(InvalidArgument, match="loops"):
        admin.create_snapshot("p", loop)
    assert state(data) == before
    inside = {"sub/up": "..", "x": "sub/up/hello.txt", "y": "x", "z": "sub/up/sub/up/sub"}
    snap = admin.create_snapshot(
        "p", [Entry("hello.txt", FILE, 5, good), Entry("sub", stat.S_IFDIR | 0o755), *_links(admin, inside)]
    )
    assert sorted(e.path for e in admin.get_snapshot(snap.id)[1]) == ["hello.txt", "sub", "sub/up", "x", "y", "z"]


def test_a_new_symlink_that_redirects_an_old_one_out_of_the_tree_is_refused(admin, setup):
    data, good = setup
    [old] = _links(admin, {"x": "s/../hello.txt"})
    base = admin.create_snapshot("p", [Entry("hello.txt", FILE, 5, good), Entry("s", stat.S_IFDIR | 0o755), old])
    root = _links(admin, {"s": "."})
    before = state(data)
    # with s a link to the root, x's `s/..` is the root's parent: outside, though only s changed
    with pytest.raises(InvalidArgument, match="'x' -> 's/../hello.txt', followed, leads outside"):
        admin.create_snapshot("p", root, base=base.id, removed=["s"])
    assert state(data) == before


def test_paths_are_limited_to_what_file_systems_take_so_a_pull_never_fails_on_them(admin, setup, tmp_path):
    from kiln.sync.pull import pull

    data, good = setup
    before = state(data)
    for path, says in (("d/" + "n" * 256, "component"), ("é" * 128, "component"), ("/".join(["d" * 200] * 6), "path")):
        with pytest.raises(InvalidArgument, match=f"{says} .* at most"):
            admin.create_snapshot("p", [Entry(path, FILE, 5, good)])
    assert state(data) == before
    longest = "/".join(["d" * 255] * 3) + "/" + "é" * 127 + "e"  # 255-byte components, 1,022 bytes in all
    snap = admin.create_snapshot("p", [Entry(longest, FILE, 5, good)])
    pull(admin, snap.id, tmp_path / "pulled", "p")
    assert (tmp_path / "pulled" / longest).read_bytes() == b"hello"
