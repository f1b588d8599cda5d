"""Pushing folders and pulling snapshots through the real coordinator."""

from __future__ import annotations

import os

import pytest

from kiln.coordinator import snapshots
from kiln.core.blobparts import BlobPart
from kiln.core.errors import AlreadyExists, InvalidArgument, KilnError, PermissionDenied
from kiln.core.hashing import sha256_bytes
from kiln.sync import push as push_module
from kiln.sync.pull import pull
from kiln.sync.push import push
from tests.conftest import wait_until
from tests.treeutil import age, sample_project, tree, write

IGNORED = {"run.log", "build", "build/out.o", "secrets.txt", ".git", ".git/HEAD"}


@pytest.fixture
def project(admin):
    admin.create_project("demo")
    return "demo"


def test_pull_restores_exactly_what_push_saw(admin, project, tmp_path):
    src = sample_project(tmp_path / "src")
    result = push(admin, src, project, "first", tmp_path / "cache")
    assert result.files == 10 and result.bytes_uploaded > 0
    snap, _ = pull(admin, result.snapshot.id, tmp_path / "dest")
    assert snap.id == result.snapshot.id and snap.message == "first" and snap.author == "admin"
    expected = {k: v for k, v in tree(src).items() if k not in IGNORED}
    assert tree(tmp_path / "dest") == expected
    assert "keep.log" in expected and "empty" in expected and expected["empty"][1] == 0o750


def test_an_unchanged_folder_uploads_nothing_and_keeps_its_id(admin, project, tmp_path):
    src = sample_project(tmp_path / "src")
    first = push(admin, src, project, "", tmp_path / "cache")
    again = push(admin, src, project, "", tmp_path / "cache")
    assert again.snapshot.id == first.snapshot.id and again.bytes_uploaded == 0


def test_changing_one_file_uploads_only_that_file(admin, project, tmp_path):
    src = sample_project(tmp_path / "src")
    first = push(admin, src, project, "", tmp_path / "cache")
    write(src, "data/small.csv", "a,b\n1,2\n3,4\n")
    second = push(admin, src, project, "", tmp_path / "cache")
    assert second.bytes_uploaded == len("a,b\n1,2\n3,4\n")
    assert second.snapshot.parent == first.snapshot.id
    _, old = admin.get_snapshot(first.snapshot.id)
    _, new = admin.get_snapshot(second.snapshot.id)
    from kiln.core.manifest import diff

    assert diff(old, new).changed == ["data/small.csv"]


def test_the_stat_cache_spares_reading_unchanged_files(admin, project, tmp_path, monkeypatch):
    src = sample_project(tmp_path / "src")
    age(src)
    push(admin, src, project, "", tmp_path / "cache")
    read: list[str] = []
    real = push_module._hash_local
    monkeypatch.setattr(push_module, "_hash_local", lambda root, e: read.append(e.path) or real(root, e))
    write(src, "train.py", "print('v2')\n", 0o755)
    push(admin, src, project, "", tmp_path / "cache")
    assert read == ["train.py"]


def test_an_interrupted_push_resumes_without_resending_blobs(admin, project, tmp_path):
    src = tmp_path / "src"
    big = os.urandom(3 * 1024 * 1024)
    write(src, "a.bin", big)
    write(src, "b.bin", os.urandom(1024))

    def cut_off():
        yield [BlobPart(sha256_bytes(big), 0, big[: 1024 * 1024], False)]
        raise ConnectionError("network cut")

    with pytest.raises((KilnError, ConnectionError)):
        admin.upload_blobs(project, cut_off())
    blob_tmp = tmp_path / "coordinator" / "blobs" / "tmp"
    wait_until(lambda: not any(blob_tmp.iterdir()), what="the partial blob to be dropped")
    assert admin.find_missing_blobs(project, [(sha256_bytes(big), len(big))]) == [sha256_bytes(big)]
    # the first file made it before the cut: upload it alone, as an interrupted push would have
    admin.upload_blobs(project, [[BlobPart(sha256_bytes(big), 0, big, True)]])
    result = push(admin, src, project, "", tmp_path / "cache")
    assert result.bytes_uploaded == 1024 and result.bytes_total == len(big) + 1024


def test_a_stream_of_small_blobs_cut_off_keeps_only_whole_durable_blobs(admin, project, tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "FLUSH_BLOBS", 4)  # several batches, each made durable, before the cut
    src = tmp_path / "src"
    contents = [os.urandom(100 + i) for i in range(30)]
    for i, data in enumerate(contents):
        write(src, f"f{i:02d}.bin", data)
    digests = [sha256_bytes(d) for d in contents]

    def cut_off():
        for i in range(0, 20, 2):  # two whole blobs a message, then half of one
            yield [BlobPart(digests[j], 0, contents[j], True) for j in (i, i + 1)]
        yield [BlobPart(digests[20], 0, contents[20][:50], False)]
        raise ConnectionError("network cut")

    with pytest.raises((KilnError, ConnectionError)):
        admin.upload_blobs(project, cut_off())
    blobs = tmp_path / "coordinator" / "blobs"
    wait_until(lambda: not any((blobs / "tmp").iterdir()), what="the partial blob to be dropped")
    missing = set(admin.find_missing_blobs(project, [(d, len(c)) for d, c in zip(digests, contents, strict=True)]))
    held = [i for i, d in enumerate(digests) if d not in missing]
    assert held == list(range(len(held))) and len(held) <= 20  # what arrived before the cut, whole blobs only
    for i in held:  # every blob held is whole, under its name
        assert (blobs / digests[i][:2] / digests[i]).read_bytes() == contents[i]
    assert not (blobs / digests[20][:2] / digests[20]).exists()
    result = push(admin, src, project, "", tmp_path / "cache")
    assert result.bytes_uploaded == sum(len(c) for i, c in enumerate(contents) if i not in held)
    pull(admin, result.snapshot.id, tmp_path / "dest")
    assert tree(tmp_path / "dest") == tree(src)


def test_links_out_of_the_folder_are_refused_with_a_way_out(admin, project, tmp_path):
    src = tmp_path / "src"
    write(src, "ok.txt", "x")
    os.symlink("/etc/passwd", src / "escape")
    with pytest.raises(InvalidArgument, match="outside the folder.*kilnignore"):
        push(admin, src, project, "", tmp_path / "cache")
    assert admin.list_snapshots(project) == []
    write(src, ".kilnignore", "escape\n")
    assert push(admin, src, project, "", tmp_path / "cache").files == 2


def test_pull_never_overwrites_and_never_leaves_half_a_tree(admin, project, make_user, tmp_path):
    src = sample_project(tmp_path / "src")
    snap = push(admin, src, project, "", tmp_path / "cache").snapshot
    dest = write(tmp_path, "busy/precious.txt", "mine").parent
    with pytest.raises(AlreadyExists, match="not empty"):
        pull(admin, snap.id, dest)
    assert tree(dest) == {"precious.txt": ("file", 0o644, b"mine")}
    eve = make_user("eve")
    with pytest.raises(PermissionDenied):
        pull(eve, snap.id, tmp_path / "eve-copy")
    assert not (tmp_path / "eve-copy").exists()
    assert [p.name for p in tmp_path.iterdir() if "kiln-pull" in p.name] == []


def test_snapshots_resolve_by_unique_prefix(admin, project, tmp_path):
    src = sample_project(tmp_path / "src")
    snap = push(admin, src, project, "", tmp_path / "cache").snapshot
    found, _ = admin.get_snapshot(snap.id[:10])
    assert found.id == snap.id
    with pytest.raises(InvalidArgument, match="at least 8"):
        admin.get_snapshot("abc")


def test_a_folder_pushed_to_a_second_project_uploads_its_content_there(admin, project, tmp_path):
    src = sample_project(tmp_path / "src")
    age(src)
    first = push(admin, src, project, "", tmp_path / "cache")
    admin.create_project("other")
    # the stat cache knows every file, but project "other" holds none of their content yet
    second = push(admin, src, "other", "", tmp_path / "cache")
    assert second.snapshot.id == first.snapshot.id and second.snapshot.project == "other"
    assert second.bytes_uploaded == first.bytes_uploaded > 0
    pull(admin, second.snapshot.id, tmp_path / "copy", project="other")
    assert tree(tmp_path / "copy") == {k: v for k, v in tree(src).items() if k not in IGNORED}
    assert (
        admin.find_missing_blobs(
            "other", [(e.digest, e.size) for e in admin.get_snapshot(second.snapshot.id)[1] if e.has_blob]
        )
        == []
    )


@pytest.mark.parametrize("when", ["uploaded as it is hashed", "uploaded when the project lacks it"])
def test_a_file_changing_during_the_push_is_named(admin, project, tmp_path, monkeypatch, when):
    src = tmp_path / "src"
    write(src, "busy.db", b"a" * 1000)
    if when == "uploaded as it is hashed":  # read again to upload: a file over the size kept from hashing
        monkeypatch.setattr(push_module, "KEEP_BYTES", 100)
    if when == "uploaded when the project lacks it":  # the cache knows it: uploaded only once refused
        age(src)
        push(admin, src, project, "", tmp_path / "cache")
        admin.create_project("other")
        project = "other"
    real_open = push_module._open_checked

    def open_after_a_write(root, entry, digest):
        write(src, "busy.db", b"b" * 1000)  # another program writes between the scan and the upload
        return real_open(root, entry, digest)

    monkeypatch.setattr(push_module, "_open_checked", open_after_a_write)
    with pytest.raises(KilnError, match="'busy.db' changed while it was being pushed"):
        push(admin, src, project, "", tmp_path / "cache")
    assert admin.list_snapshots(project) == []


def test_a_small_file_changed_right_after_hashing_is_pushed_as_it_was_hashed(admin, project, tmp_path, monkeypatch):
    src = tmp_path / "src"
    write(src, "busy.db", b"a" * 1000)
    real_hash = push_module._hash_local

    def hash_then_write(root, entry):
        found = real_hash(root, entry)
        write(src, "busy.db", b"b" * 1000)  # another program writes between the hashing and the upload
        return found

    monkeypatch.setattr(push_module, "_hash_local", hash_then_write)
    result = push(admin, src, project, "", tmp_path / "cache")
    assert result.bytes_uploaded == 1000
    assert [e.digest for e in admin.get_snapshot(result.snapshot.id)[1]] == [sha256_bytes(b"a" * 1000)]
    pull(admin, result.snapshot.id, tmp_path / "dest")
    assert (tmp_path / "dest" / "busy.db").read_bytes() == b"a" * 1000


def test_files_uploaded_as_they_are_hashed_arrive_once_each(admin, project, tmp_path):
    src = tmp_path / "src"
    for i in range(700):  # several batches of questions; every tenth file repeats another's content
        write(src, f"d{i % 7}/f{i}.txt", f"content {i if i % 10 else 0}\n")
    write(src, "big.bin", os.urandom(3 * 1024 * 1024 + 5))
    result = push(admin, src, project, "", tmp_path / "cache")
    unique = {(src / p).read_bytes() for p in (f"d{i % 7}/f{i}.txt" for i in range(700))}
    assert result.bytes_uploaded == sum(map(len, unique)) + 3 * 1024 * 1024 + 5
    pull(admin, result.snapshot.id, tmp_path / "dest")
    assert tree(tmp_path / "dest") == tree(src)
