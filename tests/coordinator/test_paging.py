"""Every listing comes in pages (kiln/core/paging.py), through the real coordinator: a table bigger than one
page is read whole by the client and the command line, a page never holds more than its cap however much
is asked, a page token the listing did not make is refused with a clear InvalidArgument, and a client from
before paging (no page fields) gets the first page of the cap."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import grpc
import pytest

from kiln.agent import identity
from kiln.client import Client
from kiln.core import limits
from kiln.core.link import Quarantined
from kiln.core.manifest import Entry
from kiln.core.paging import PAGE_CAPS, encode_token
from kiln.proto.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    projects_pb2,
    projects_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
)
from kiln.sync.push import push
from tests.conftest import Cli, login

DIR_MODE = 0o040755


def snapshot_of(admin: Client, tmp: Path, project: str, files: dict[str, str]) -> str:
    src = tmp / f"src-{project}-{len(list(tmp.glob('src-*')))}"
    src.mkdir(parents=True)
    for name, text in files.items():
        (src / name).write_text(text)
    return push(admin, src, project, "", tmp / "push-cache").snapshot.id


def test_projects_past_one_page_are_listed_whole_and_a_page_never_passes_its_cap(admin, signed_in_cli: Cli):
    cap = PAGE_CAPS["ListProjects"]
    names = [f"p{i:03d}" for i in range(cap + 5)]
    for name in names:  # the largest description allowed, so the rows are as large as they may be
        admin.create_project(name, "d" * limits.DESCRIPTION.most)

    assert [p.name for p in admin.list_projects()] == names
    listed = json.loads(signed_in_cli.ok("project", "list", "--json"))
    assert [p["name"] for p in listed] == names
    text = signed_in_cli.ok("project", "list")
    assert text.count("DESCRIPTION") == 1 and all(f"\n{n} " in text for n in names)

    stub = projects_pb2_grpc.ProjectsStub(admin.channel)
    asked_too_many = stub.ListProjects(projects_pb2.ListProjectsRequest(page_size=10**6))
    assert len(asked_too_many.projects) == cap and asked_too_many.next_page_token
    # a client from before paging sends no page fields: it gets the first page of the cap, and ignores
    # the token it cannot know about
    old = stub.ListProjects(projects_pb2.ListProjectsRequest())
    assert [p.name for p in old.projects] == names[:cap] and old.next_page_token
    rest = stub.ListProjects(projects_pb2.ListProjectsRequest(page_token=old.next_page_token))
    assert [p.name for p in rest.projects] == names[cap:] and not rest.next_page_token


def test_a_comment_thread_and_the_audit_log_past_one_page_are_listed_whole(
    coordinator, admin, signed_in_cli: Cli, tmp_path: Path
):
    admin.create_project("p")
    snap = f"snapshot:{snapshot_of(admin, tmp_path, 'p', {'a.txt': 'a'})}"
    count = PAGE_CAPS["ListAudit"] + 1  # more comments than a page of them, and audit records past a page too
    for i in range(count):
        admin.add_comment(snap, f"note {i}")

    assert [c.text for c in admin.list_comments(snap)] == [f"note {i}" for i in range(count)]
    listed = json.loads(signed_in_cli.ok("comments", snap, "--json"))
    assert [c["text"] for c in listed] == [f"note {i}" for i in range(count)]

    stored = coordinator.ctx.store.audit()
    assert len(stored) > PAGE_CAPS["ListAudit"]
    records = json.loads(signed_in_cli.ok("audit", "list", "--limit", "0", "--json"))
    assert [r["seq"] for r in records] == [r.seq for r in stored]
    assert [r.seq for r in admin.list_audit()] == [r.seq for r in stored]
    assert [r.seq for r in admin.list_audit(after_seq=3, limit=5)] == [4, 5, 6, 7, 8]
    text = signed_in_cli.ok("audit", "list", "--limit", "0")
    assert text.count("ACTION") == 1 and text.count("comment.add") == count


def test_every_listing_follows_its_pages(coordinator, admin, make_user, tmp_path: Path):
    """With pages of two rows, each listing of five or so still comes whole, in the same order."""
    admin.create_project("p")
    for name in ("u1", "u2", "u3"):
        make_user(name)
    for _ in range(4):
        admin.create_token("t")
    snaps = [snapshot_of(admin, tmp_path, "p", {"a.txt": str(i)}) for i in range(5)]
    for s in snaps:
        admin.add_dataset_version("p", "d", s)
        admin.add_comment(f"snapshot:{snaps[0]}", f"on {s}")
    for i in range(3):
        identity.enroll(tmp_path / f"node-{i}", coordinator.address, admin.create_join_token().token, f"n{i}", {})
        coordinator.ctx.store.quarantine(Quarantined(f"n{i}", 5, "RunUpdate", "m", "bad", 3, 1.0))

    def every(client: Client) -> dict[str, list[object]]:
        return {
            "users": client.list_users(),
            "tokens": client.list_tokens("*"),
            "audit": client.list_audit(),
            "projects": client.list_projects(),
            "snapshots": client.list_snapshots("p"),
            "datasets": client.list_datasets("p"),
            "comments": client.list_comments(f"snapshot:{snaps[0]}"),
            "nodes": [n.name for n in client.list_nodes()],  # (their live state may change between looks)
            "quarantined": client.list_quarantined(),
        }

    whole = every(admin)
    assert {k: len(v) for k, v in whole.items()} == {
        "users": 4,
        "tokens": 8,  # the admin's sign-in and each user's, and the four made here
        "audit": len(coordinator.ctx.store.audit()),
        "projects": 1,
        "snapshots": 5,
        "datasets": 5,
        "comments": 5,
        "nodes": 3,
        "quarantined": 3,
    }
    assert [s.id for s in whole["snapshots"]] == list(reversed(snaps))  # newest first
    admin.page_size = 2
    assert every(admin) == {**whole, "tokens": admin.list_tokens("*")}  # (listing touched no token)


def test_a_manifest_past_one_page_is_read_whole_and_a_page_stops_at_the_byte_budget(admin):
    """Entries with long paths, more of them than fit in the reply budget: the client reads every page,
    and a client from before paged manifests still gets the whole manifest in one reply."""
    admin.create_project("p")
    tail = "/".join(c * 250 for c in "abc") + "/" + "d" * 100  # ~860 bytes: near the path limit
    entries = [Entry(f"{i:06d}/{tail}", DIR_MODE, 0, "") for i in range(PAGE_CAPS["GetSnapshot"] + 500)]
    snap = admin.create_snapshot("p", entries)

    _, found = admin.get_snapshot(snap.id, "p")
    assert found == entries
    stub = projects_pb2_grpc.SnapshotsStub(admin.channel)
    first = stub.GetSnapshot(projects_pb2.GetSnapshotRequest(project="p", id=snap.id, page_size=10**6))
    assert first.ByteSize() < 17 * 1024**2 and first.next_page_token  # cut by the budget, not by the cap
    assert 0 < len(first.entries) < PAGE_CAPS["GetSnapshot"]
    old = stub.GetSnapshot(projects_pb2.GetSnapshotRequest(project="p", id=snap.id))
    assert len(old.entries) == len(entries) and not old.next_page_token


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Tokens no listing made, each as a function of the listing it is sent to.
BAD_TOKENS = {
    "not base64": lambda listing: "%%% not a token %%%",
    "not JSON": lambda listing: _b64("hello"),
    "another listing's": lambda listing: encode_token("ListUsers" if listing != "ListUsers" else "ListRuns", ("a",)),
    "a key of the wrong shape": lambda listing: _b64(f'["{listing}", "a", "b", "c"]'),
    "a key of the wrong type": lambda listing: _b64(f'["{listing}", true, true]'),
    "not a finite number": lambda listing: _b64(f'["{listing}", NaN, "x"]'),
    "an integer SQLite cannot hold": lambda listing: _b64(f'["{listing}", {2**70}]'),
    "far too long": lambda listing: "A" * 100_000,
}


def test_a_page_token_the_listing_did_not_make_is_a_clear_invalid_argument(coordinator, admin, tmp_path: Path):
    admin.create_project("p")
    snap = snapshot_of(admin, tmp_path, "p", {"a.txt": "a"})
    calls = {
        "ListProjects": lambda t: projects_pb2_grpc.ProjectsStub(admin.channel).ListProjects(
            projects_pb2.ListProjectsRequest(page_token=t)
        ),
        "ListRuns": lambda t: runs_pb2_grpc.RunsStub(admin.channel).ListRuns(runs_pb2.ListRunsRequest(page_token=t)),
        "ListAudit": lambda t: admin_pb2_grpc.AuditStub(admin.channel).ListAudit(
            admin_pb2.ListAuditRequest(page_token=t)
        ),
        "ListTokens": lambda t: admin_pb2_grpc.UsersStub(admin.channel).ListTokens(
            admin_pb2.ListTokensRequest(page_token=t)
        ),
        "ListComments": lambda t: registry_pb2_grpc.CommentsStub(admin.channel).ListComments(
            registry_pb2.ListCommentsRequest(id=snap, page_token=t)
        ),
        "GetSnapshot": lambda t: projects_pb2_grpc.SnapshotsStub(admin.channel).GetSnapshot(
            projects_pb2.GetSnapshotRequest(project="p", id=snap, page_size=10, page_token=t)
        ),
    }
    before = coordinator.ctx.store.audit()
    for listing, call in calls.items():
        for what, token in BAD_TOKENS.items():
            with pytest.raises(grpc.RpcError) as refused:
                call(token(listing))
            error = refused.value
            assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (listing, what, error.details())
            assert "page token" in error.details() and "\n" not in error.details(), (listing, what)
            assert len(error.details()) < 300, (listing, what)
    assert coordinator.ctx.store.audit() == before  # refused, and nothing changed


def test_a_listing_is_read_only_to_those_who_may(coordinator, admin, make_user):
    """A page token carries no right: a user's token of another listing, or of an admin's, lists nothing
    the user may not see."""
    admin.create_project("p")
    for name in ("a", "b", "c"):
        admin.create_project(f"other-{name}")
    bob = make_user("bob", "p", "viewer")
    admin.page_size = 1
    assert [p.name for p in admin.list_projects()] == ["other-a", "other-b", "other-c", "p"]
    stub = projects_pb2_grpc.ProjectsStub(bob.channel)
    after_other_a = encode_token("ListProjects", ("other-a",))
    seen = stub.ListProjects(projects_pb2.ListProjectsRequest(page_token=after_other_a))
    assert [p.name for p in seen.projects] == ["p"]
    with login(coordinator, "bob", "bob-password") as again:
        assert [p.name for p in again.list_projects()] == ["p"]
