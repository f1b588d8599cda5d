"""`kiln admin gc` removes the blobs of pushes that never finished, keeps everything a snapshot references
and everything recent, and works while the coordinator runs: the project can push the same content again."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from pathlib import Path

from kiln.coordinator.ops.gc import collect_garbage
from kiln.core.blobparts import pack
from kiln.core.hashing import sha256_bytes
from kiln.sync.pull import pull
from kiln.sync.push import push
from tests.treeutil import tree, write


def _upload_only(client, data: bytes) -> str:
    """What a push cut off before its snapshot leaves behind: a blob no snapshot references."""
    digest = sha256_bytes(data)
    assert client.find_missing_blobs("p", [(digest, len(data))]) == [digest]
    client.upload_blobs("p", pack([(digest, lambda: io.BytesIO(data))]))
    return digest


def _age(data: Path, digest: str, seconds: float = 3 * 86400) -> None:
    """Makes a blob look as old as an abandoned upload would be (row and file)."""
    with sqlite3.connect(data / "kiln.db") as db:
        db.execute("UPDATE blobs SET created_at = created_at - ? WHERE digest = ?", [seconds, digest])
    path = data / "blobs" / digest[:2] / digest
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def test_unreferenced_old_blobs_go_and_everything_else_stays(coordinator, admin, cli, tmp_path):
    admin.create_project("p")
    data = coordinator.ctx.config.data_dir
    write(tmp_path / "src", "kept.txt", "referenced by a snapshot")
    snap = push(admin, tmp_path / "src", "p", "", tmp_path / "cache").snapshot.id
    abandoned = _upload_only(admin, b"an upload whose push never finished")
    recent = _upload_only(admin, b"a push still in progress")
    kept = sha256_bytes(b"referenced by a snapshot")
    for digest in (abandoned, kept):
        _age(data, digest)

    dry = json.loads(cli.ok("admin", "gc", "--data", str(data), "--dry-run", "--json"))
    assert (dry["removed_blobs"], dry["dry_run"]) == (1, True)
    assert (data / "blobs" / abandoned[:2] / abandoned).exists()

    out = cli.ok("admin", "gc", "--data", str(data))
    assert "removed 1 blob(s)" in out
    assert not (data / "blobs" / abandoned[:2] / abandoned).exists()
    for digest in (kept, recent):
        assert (data / "blobs" / digest[:2] / digest).exists()
    pull(admin, snap, tmp_path / "pulled", "p")
    assert tree(tmp_path / "pulled") == tree(tmp_path / "src")

    # the coordinator, running all along, no longer counts the blob as held: it is uploaded again
    assert admin.find_missing_blobs("p", [(abandoned, 35)]) == [abandoned]
    assert _upload_only(admin, b"an upload whose push never finished") == abandoned
    assert collect_garbage(data, 3600).removed_blobs == 0  # nothing old and unreferenced is left


def test_stray_files_without_a_record_are_removed_once_old(coordinator, tmp_path):
    data = coordinator.ctx.config.data_dir
    stray_digest = sha256_bytes(b"stray")
    stray = data / "blobs" / stray_digest[:2] / stray_digest
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"stray")  # published, then the coordinator stopped before recording it
    assert collect_garbage(data, 3600).removed_blobs == 0  # too young: perhaps an upload in progress
    st = stray.stat()
    os.utime(stray, (st.st_atime - 7200, st.st_mtime - 7200))
    report = collect_garbage(data, 3600)
    assert (report.removed_blobs, report.removed_bytes) == (1, 5) and not stray.exists()


def test_gc_refuses_a_folder_without_a_coordinator(cli, tmp_path):
    result = cli("admin", "gc", "--data", str(tmp_path))
    assert result.code == 1 and "holds no coordinator database" in result.err
    result = cli("admin", "gc", "--data", str(tmp_path), "--min-age", "soon")
    assert result.code == 1 and "not a duration" in result.err
