"""`kiln coordinator backup` while the coordinator runs and takes pushes, then `restore` into a new folder
and a coordinator started on it: same CA, same users, every snapshot pulls back exactly. Bad input (a
non-empty folder, something that is not a backup, a damaged or newer backup) changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from kiln.coordinator.ops.backup import backup, restore
from kiln.core.errors import FailedPrecondition, InvalidArgument
from kiln.core.runs import LogChunk, Run, RunSpec, RunState
from kiln.sync.pull import pull
from kiln.sync.push import push
from tests.conftest import ADMIN_PASSWORD, login, start_coordinator, wait_until
from tests.treeutil import tree, write


def _push(client, tmp: Path, name: str, files: dict[str, str]) -> tuple[str, dict]:
    src = tmp / "src" / name
    for rel, text in files.items():
        write(src, rel, text)
    return push(client, src, "p", name, tmp / "cache" / name).snapshot.id, tree(src)


def test_a_backup_taken_during_pushes_restores_a_working_coordinator(coordinator, admin, tmp_path):
    admin.create_project("p")
    pushed = dict([_push(admin, tmp_path, "first", {"a.txt": "alpha", "d/b.bin": "beta" * 1000})])
    stop = threading.Event()

    def keep_pushing() -> None:  # a second client, so the two never share a channel
        with login(coordinator, "admin", ADMIN_PASSWORD) as client:
            i = 0
            while not stop.is_set():
                snap, files = _push(client, tmp_path, f"busy-{i}", {f"f{i}.txt": f"content {i}", "a.txt": "alpha"})
                pushed[snap] = files
                i += 1

    pusher = threading.Thread(target=keep_pushing)
    pusher.start()
    try:
        wait_until(lambda: len(pushed) > 1, 30, "pushes to be under way")
        info = backup(coordinator.ctx.config.data_dir, tmp_path / "backup")
    finally:
        stop.set()
        pusher.join(60)
    assert info.blobs >= 2 and (tmp_path / "backup" / "pki" / "ca.key").stat().st_mode & 0o077 == 0

    restored = restore(tmp_path / "backup", tmp_path / "restored")
    assert restored == info
    again = start_coordinator(tmp_path / "restored")
    try:
        assert again.ctx.tls.ca_fingerprint == coordinator.ctx.tls.ca_fingerprint
        with login(again, "admin", ADMIN_PASSWORD) as client:
            snapshots = client.list_snapshots("p")
            assert len(snapshots) >= 2 and set(s.id for s in snapshots) <= set(pushed)
            for snap in snapshots:  # whatever the backup caught, it caught whole
                pull(client, snap.id, tmp_path / "pulled" / snap.id, "p")
                assert tree(tmp_path / "pulled" / snap.id) == pushed[snap.id]
            assert client.verify_audit().ok
    finally:
        again.stop()


def test_runs_output_is_backed_up_and_restored_even_while_a_log_grows(coordinator, admin, tmp_path):
    admin.create_project("p")
    store = coordinator.ctx.store
    for run_id in ("r-0000000000a1", "r-0000000000a2"):
        store.add_run(Run(run_id, RunSpec("p", ("true",), node_labels={"pool": "none"}), "admin", RunState.QUEUED, 1.0))
    done = [LogChunk(1, i, "stdout", f"line {i}\n".encode() * 500, 1.0) for i in range(1, 201)]
    store.add_logs("r-0000000000a1", done)
    stop, written = threading.Event(), [0]

    def keep_printing() -> None:
        while not stop.is_set():
            written[0] += 1
            store.add_logs("r-0000000000a2", [LogChunk(1, written[0], "stderr", b"x" * 7000 + b"\n", 1.0)])

    printer = threading.Thread(target=keep_printing)
    printer.start()
    try:
        wait_until(lambda: written[0] > 50, 30, "a log to be growing")
        backup(coordinator.ctx.config.data_dir, tmp_path / "backup")
    finally:
        stop.set()
        printer.join(60)
    restore(tmp_path / "backup", tmp_path / "restored")
    again = start_coordinator(tmp_path / "restored")
    try:
        with login(again, "admin", ADMIN_PASSWORD) as client:
            assert [c.data for c in client.read_logs("r-0000000000a1")] == [c.data for c in done]
            growing = list(client.read_logs("r-0000000000a2"))
            assert len(growing) > 50 and [c.seq for c in growing] == list(range(1, len(growing) + 1))
            assert all(c.data == b"x" * 7000 + b"\n" for c in growing)
    finally:
        again.stop()


def test_backup_and_restore_through_the_cli(coordinator, admin, cli, tmp_path):
    admin.create_project("p")
    _push(admin, tmp_path, "one", {"x": "x"})
    data = coordinator.ctx.config.data_dir
    out = cli.ok("coordinator", "backup", str(tmp_path / "b"), "--data", str(data), "--json")
    assert json.loads(out)["blobs"] == 1
    out = cli.ok("coordinator", "restore", str(tmp_path / "b"), "--data", str(tmp_path / "r"))
    assert "restored" in out and (tmp_path / "r" / "kiln.db").exists()
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o700


def test_bad_input_is_refused_and_changes_nothing(coordinator, admin, cli, tmp_path):
    admin.create_project("p")
    _push(admin, tmp_path, "one", {"x": "some bytes"})
    data = coordinator.ctx.config.data_dir
    backup(data, tmp_path / "good")
    occupied = tmp_path / "occupied"
    write(occupied, "keep.txt", "mine")

    result = cli("coordinator", "restore", str(tmp_path / "good"), "--data", str(occupied))
    assert result.code == 1 and "not an empty folder" in result.err
    assert tree(occupied) == {"keep.txt": ("file", 0o644, b"mine")}
    result = cli("coordinator", "backup", str(occupied), "--data", str(data))
    assert result.code == 1 and "not an empty folder" in result.err
    with pytest.raises(InvalidArgument, match="not a Kiln backup"):
        restore(occupied, tmp_path / "new-1")
    with pytest.raises(FailedPrecondition, match="holds no coordinator data"):
        backup(tmp_path / "nowhere", tmp_path / "b2")

    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "good", damaged)
    blob = next(p for p in (damaged / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    with pytest.raises(FailedPrecondition, match="does not match its digest"):
        restore(damaged, tmp_path / "new-2")

    newer = tmp_path / "newer"
    shutil.copytree(tmp_path / "good", newer)
    meta = json.loads((newer / "backup.json").read_text())
    (newer / "backup.json").write_text(json.dumps({**meta, "schema_version": 999}))
    with pytest.raises(FailedPrecondition, match="newer than this Kiln"):
        restore(newer, tmp_path / "new-3")
    with sqlite3.connect(newer / "kiln.db") as db:
        db.execute("UPDATE schema_version SET version = 998")
    (newer / "backup.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidArgument, match="disagree on the schema"):
        restore(newer, tmp_path / "new-4")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("new-", ".new-"))]
