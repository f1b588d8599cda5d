"""Records that point at shared content belong to a project: the same files pushed into projects a and b
are one snapshot id, yet a member of one project never reads or writes what the other attached to it
(comments on the snapshot and on what was made from it), and lineage never walks through the other's runs,
in either direction, through a real coordinator and agent."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from kiln.client import Client
from kiln.coordinator.store import SqliteStore
from kiln.coordinator.store.migrations import MIGRATIONS
from kiln.core.errors import InvalidArgument, NotFound, PermissionDenied
from kiln.core.runs import RunSpec
from kiln.sync.pull import pull
from kiln.sync.push import push
from tests.conftest import login

MAKE = "open('out.txt', 'w').write('made in a\\n')\n"


def push_as(client: Client, tmp: Path, project: str, folder: Path) -> str:
    return push(client, folder, project, "", tmp / f"cache-{project}").snapshot.id


def folder(tmp: Path, name: str, files: dict[str, str]) -> Path:
    root = tmp / name
    root.mkdir()
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


def texts(comments) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.text for c in comments]


@pytest.fixture
def two_projects(cluster, tmp_path):  # type: ignore[no-untyped-def]
    """Projects a and b holding the same code snapshot; alice is in a, bob in b, carol in both."""
    admin = cluster.admin
    for p in ("a", "b"):
        admin.create_project(p)
    users = {}
    for name, projects in (("alice", ("a",)), ("bob", ("b",)), ("carol", ("a", "b"))):
        admin.create_user(name, f"{name}-password")
        for p in projects:
            admin.set_member(p, name, "editor")
        users[name] = login(cluster.coordinator, name, f"{name}-password")
    code = folder(tmp_path, "code", {"train.py": MAKE})
    in_a = push_as(users["alice"], tmp_path, "a", code)
    in_b = push_as(users["bob"], tmp_path, "b", code)
    assert in_a == in_b  # one content id, recorded once in each project
    yield in_a, users
    for c in users.values():
        c.close()


def test_comments_on_one_snapshot_are_each_projects_own(two_projects):
    snap, users = two_projects
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    for entity in (f"snapshot:{snap}", snap):  # the typed id and the bare one name the same thread
        written = alice.add_comment(entity, f"a says {entity[:4]}")
        assert written.project == "a"
    assert bob.list_comments(f"snapshot:{snap}") == []  # a's thread is not b's
    assert bob.add_comment(snap, "b says").project == "b"
    assert texts(alice.list_comments(snap)) == ["a says snap", f"a says {snap[:4]}"]
    assert texts(bob.list_comments(snap)) == ["b says"]

    # naming a's thread outright gets bob nothing of it, and writes nothing into it
    with pytest.raises(PermissionDenied):
        bob.list_comments(snap, "a")
    with pytest.raises(PermissionDenied):
        bob.add_comment(snap, "into a's thread", "a")
    assert len(alice.list_comments(snap)) == 2

    # a member of both says which thread; without it the call is refused, never guessed
    with pytest.raises(InvalidArgument, match="several of your projects"):
        carol.list_comments(snap)
    with pytest.raises(InvalidArgument, match="several of your projects"):
        carol.add_comment(snap, "which one?")
    assert len(carol.list_comments(snap, "a")) == 2 and texts(carol.list_comments(snap, "b")) == ["b says"]
    assert carol.add_comment(snap, "carol in b", "b").project == "b"
    assert texts(bob.list_comments(snap)) == ["b says", "carol in b"] and len(alice.list_comments(snap)) == 2


def test_what_is_made_from_shared_content_stays_in_its_project(cluster, two_projects, tmp_path):
    snap, users = two_projects
    alice, bob = users["alice"], users["bob"]
    da = alice.add_dataset_version("a", "d", snap)
    db = bob.add_dataset_version("b", "d", snap)
    assert da.snapshot == db.snapshot == snap
    alice.add_comment("dataset:a/d@1", "a's dataset")
    with pytest.raises(PermissionDenied):
        bob.list_comments("dataset:a/d@1")
    with pytest.raises(PermissionDenied):
        bob.add_comment("dataset:a/d@1", "into a's")
    with pytest.raises(NotFound):
        bob.add_comment("dataset:b/d@1", "a thread in b is b's", "a")
    assert bob.list_comments("dataset:b/d@1") == []

    # a run in a on the shared snapshot makes an output; bob pushes the very same files into b
    cluster.agent("n1")
    run = alice.submit_run(RunSpec("a", (sys.executable, "train.py"), snap))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded" and done.output_snapshot, cluster.output(run.id)
    out = done.output_snapshot
    pull(cluster.admin, out, tmp_path / "copy", "a")
    assert push_as(bob, tmp_path, "b", tmp_path / "copy") == out
    alice.add_comment(out, "a's output")
    assert bob.list_comments(out) == []

    # lineage: each sees its own side of the shared content, and never walks through the other's run
    mine = {n.id for n in alice.lineage(f"snapshot:{snap}", "down", 10).nodes}
    assert {f"run:{run.id}", f"snapshot:{out}", "dataset:a/d@1"} <= mine and "dataset:b/d@1" not in mine
    down = bob.lineage(f"snapshot:{snap}", "down", 10)
    assert {n.id for n in down.nodes} == {f"snapshot:{snap}", "dataset:b/d@1"}
    assert {n.project for n in down.nodes} == {"b"}
    up = bob.lineage(f"snapshot:{out}", "up", 10)
    assert {n.id for n in up.nodes} == {f"snapshot:{out}"} and up.edges == ()
    with pytest.raises(PermissionDenied):
        bob.lineage(f"run:{run.id}")
    with pytest.raises(PermissionDenied):
        bob.run_record(run.id)
    assert list(bob.export_openlineage()) == []

    # each project lists its own record of the content: who pushed it there
    assert [(s.id, s.author) for s in bob.list_snapshots("b") if s.id == snap] == [(snap, "bob")]
    assert bob.snapshot_info(snap).project == "b" and alice.snapshot_info(snap).project == "a"
    with pytest.raises(PermissionDenied):
        bob.list_snapshots("a")
    with pytest.raises(PermissionDenied):
        bob.get_snapshot(snap, "a")


def test_comments_written_before_threads_keep_the_project_they_were_written_in(tmp_path):
    """A database from before comments were read by thread: each comment stays in its project's thread."""
    mine = next(i for i, m in enumerate(MIGRATIONS) if "comments_thread" in m)
    path = tmp_path / "kiln.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:mine]:
        db.executescript(script)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version (version) VALUES (?)", [mine])
    entity = "snapshot:" + "ab" * 32
    for cid, project in (("c-1", "a"), ("c-2", "b")):
        db.execute(
            "INSERT INTO comments (id, entity, project, author, text, time) VALUES (?, ?, ?, 'u', ?, 1.0)",
            [cid, entity, project, f"in {project}"],
        )
    db.commit()
    db.close()
    store = SqliteStore(path)
    assert store.schema_version() == len(MIGRATIONS)
    assert [c["text"] for c in store.comments("a", entity)] == ["in a"]
    assert [c["text"] for c in store.comments("b", entity)] == ["in b"]
    plan = store._rows("EXPLAIN QUERY PLAN SELECT * FROM comments WHERE project = 'a' AND entity = 'x'")
    assert any("comments_thread" in r["detail"] for r in plan)
    store.close()
