"""Every limit of kiln.core.limits, driven through the real coordinator: a field over its limit is refused
with one clear line naming the field and the limit (never INTERNAL), before anything is stored, logged or
audited; the database is the same afterwards, table by table."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from kiln.client import Client
from kiln.core import limits
from kiln.core.blobparts import BlobPart
from kiln.core.errors import InvalidArgument, KilnError
from kiln.core.hashing import sha256_bytes
from kiln.core.manifest import Entry
from kiln.core.runs import Resources, RunSpec
from tests.conftest import client_for

KiB = 1024
FILE = stat.S_IFREG | 0o644
LINK = stat.S_IFLNK | 0o777
NO_RUN = "r-000000000000"  # checks that come before any lookup do not need a run


def db_state(rc: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table; a token's last-used time aside (it is touched by any call)."""
    with sqlite3.connect(f"file:{rc.ctx.config.data_dir / 'kiln.db'}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        found = {}
        for t in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({t})") if (t, r[1]) != ("tokens", "last_used_at")]
            found[t] = db.execute(f"SELECT {', '.join(columns)} FROM {t} ORDER BY 1").fetchall()
        return found


@dataclass
class World:
    rc: Any
    snap: str  # a snapshot of project p holding hello.txt
    digest: str  # hello.txt's blob
    long_link: str  # a blob of SYMLINK_TARGET + 1 bytes, for a link target


@pytest.fixture
def world(coordinator: Any, admin: Client) -> World:
    admin.create_project("p")
    digest = sha256_bytes(b"hello")
    long_target = b"t" * (limits.SYMLINK_TARGET.most + 1)
    admin.upload_blobs(
        "p", [[BlobPart(digest, 0, b"hello", True)], [BlobPart(sha256_bytes(long_target), 0, long_target, True)]]
    )
    snap = admin.create_snapshot("p", [Entry("hello.txt", FILE, 5, digest)])
    admin.whoami()  # the session's last use is touched once; nothing else changes under the tests
    return World(coordinator, snap.id, digest, sha256_bytes(long_target))


Call = Callable[[Client, World], object]


def run(**fields: Any) -> Call:
    return lambda a, w: a.submit_run(RunSpec("p", **{"command": ("echo", "hi"), **fields}))


def snapshot(*entries: Callable[[World], Entry], **fields: Any) -> Call:
    return lambda a, w: a.create_snapshot("p", [e(w) for e in entries], **fields)


def file(path: str) -> Callable[[World], Entry]:
    return lambda w: Entry(path, FILE, 5, w.digest)


# field -> (a call sending one value over its limit, what the refusal says: all of it, one line)
OVER: dict[str, tuple[Call, str]] = {
    "project description": (
        lambda a, w: a.create_project("q", "d" * (4 * KiB + 1)),
        "project description is 4,097 bytes; at most 4 KiB",
    ),
    "project description of 25 MiB": (
        lambda a, w: a.create_project("q", "d" * (25 << 20)),
        "project description is 25 MiB; at most 4 KiB",
    ),
    "NUL in a description": (
        lambda a, w: a.create_project("q", "a\0b"),
        "project description contains a NUL character",
    ),
    "dataset description": (
        lambda a, w: a.add_dataset_version("p", "ds", w.snap, "d" * (4 * KiB + 1)),
        "dataset description is 4,097 bytes; at most 4 KiB",
    ),
    "dataset snapshot reference": (
        lambda a, w: a.add_dataset_version("p", "ds", "a" * 300),
        "snapshot id is 300 bytes; at most 256 bytes",
    ),
    "snapshot message": (
        snapshot(file("hello.txt"), message="m" * (4 * KiB + 1)),
        "snapshot message is 4,097 bytes; at most 4 KiB",
    ),
    "alias request message": (
        lambda a, w: a.request_alias("p", "m", 1, "staging", "m" * (4 * KiB + 1)),
        "request message is 4,097 bytes; at most 4 KiB",
    ),
    "review message": (
        lambda a, w: a.review("p", "m", 1, True, "m" * (4 * KiB + 1)),
        "review message is 4,097 bytes; at most 4 KiB",
    ),
    "comment": (
        lambda a, w: a.add_comment(f"snapshot:{w.snap}", "c" * (16 * KiB + 1)),
        "comment is 16,385 bytes; at most 16 KiB",
    ),
    "command arguments": (run(command=("echo",) * 1025), "command has 1,025 arguments; at most 1,024 arguments"),
    "command argument": (run(command=("echo", "x" * (8 * KiB + 1))), "command argument is 8,193 bytes; at most 8 KiB"),
    "command": (run(command=("echo", "x" * 8 * KiB, "y" * 8 * KiB)), "command is 16,388 bytes; at most 16 KiB"),
    "env vars": (run(env={f"V{i}": "" for i in range(129)}), "env has 129 entries; at most 128 entries"),
    "env var value": (run(env={"V": "x" * (8 * KiB + 1)}), "env var value 'V' is 8,193 bytes; at most 8 KiB"),
    "env": (
        run(env={"A": "x" * 8 * KiB, "B": "y" * 8 * KiB}),
        "env (keys and values together) is 16,386 bytes; at most 16 KiB",
    ),
    "node labels": (run(node_labels={f"k{i}": "v" for i in range(33)}), "labels has 33 entries; at most 32 entries"),
    "label value": (
        run(node_labels={"zone": "x" * 64}),
        "label value 'zone' has 64 characters; at most 63 characters",
    ),
    "datasets of a run": (
        run(datasets=tuple(f"d{i}" for i in range(33))),
        "datasets has 33 datasets; at most 32 datasets",
    ),
    "dataset of a run": (run(datasets=("d" * 257,)), "dataset is 257 bytes; at most 256 bytes"),
    "image": (run(image="i" * 513), "image is 513 bytes; at most 512 bytes"),
    "image with a space": (
        run(image="busybox latest"),
        "image 'busybox latest' contains a space or a control character",
    ),
    "gpu model": (run(resources=Resources(gpu_model="g" * 129)), "gpu model is 129 bytes; at most 128 bytes"),
    "snapshot of a run": (run(snapshot="a" * 257), "snapshot id is 257 bytes; at most 256 bytes"),
    "parent run": (run(parent_run="r-" + "a" * 255), "parent run id is 257 bytes; at most 256 bytes"),
    "model tags": (
        lambda a, w: a.register_model(NO_RUN, "model", "m", {f"t{i}": "v" for i in range(33)}),
        "model tags has 33 entries; at most 32 entries",
    ),
    "model tag value": (
        lambda a, w: a.register_model(NO_RUN, "model", "m", {"t": "v" * (KiB + 1)}),
        "model tag value 't' is 1,025 bytes; at most 1 KiB",
    ),
    "model path": (
        lambda a, w: a.register_model(NO_RUN, "p" * (KiB + 1), "m"),
        "model path is 1,025 bytes; at most 1 KiB",
    ),
    "password": (lambda a, w: a.create_user("bob", "p" * (KiB + 1)), "password is 1,025 bytes; at most 1 KiB"),
    "new password": (
        lambda a, w: a.set_password("p" * (KiB + 1), old="admin-password-1"),
        "new password is 1,025 bytes; at most 1 KiB",
    ),
    "sign-in user name of 10 MiB": (
        lambda a, w: client_for(w.rc).login("u" * (10 << 20), "whatever-password"),
        "user name is 10 MiB; at most 256 bytes",
    ),
    "sign-in password": (
        lambda a, w: client_for(w.rc).login("admin", "p" * (KiB + 1)),
        "password is 1,025 bytes; at most 1 KiB",
    ),
    "filter": (lambda a, w: a.search_runs("p", "x" * (8 * KiB + 1)), "filter is 8,193 bytes; at most 8 KiB"),
    "filter of 10 MiB": (lambda a, w: a.search_runs("p", "(" * (10 << 20)), "filter is 10 MiB; at most 8 KiB"),
    "filter nesting": (
        lambda a, w: a.search_runs("p", "(" * 300 + "state = queued" + ")" * 300),
        "a filter may nest parentheses at most 20 deep",
    ),
    "filter conditions": (
        lambda a, w: a.search_runs("p", " or ".join(["state = queued"] * 21)),
        "a filter may have at most 20 conditions",
    ),
    "distinct search fields": (
        lambda a, w: a.search_runs("p", "", ",".join(f"params.p{i}" for i in range(65))),
        "a search may use at most 20 distinct params, metrics and tags fields (filter and sort together), not 65",
    ),
    "sort": (lambda a, w: a.search_runs("p", "", "x" * (2 * KiB + 1)), "sort is 2,049 bytes; at most 2 KiB"),
    "columns": (
        lambda a, w: a.search_table("p", "state = queued", columns=[f"params.c{i}" for i in range(33)]),
        "columns has 33 columns; at most 32 columns",
    ),
    "a field's key": (
        lambda a, w: a.search_runs("p", "params." + "k" * 251 + " = 1"),
        "params key has 251 characters; at most 250 characters",
    ),
    "metric keys asked for": (
        lambda a, w: a.metrics(NO_RUN, [f"k{i}" for i in range(1001)]),
        "metric keys asked for has 1,001 keys; at most 1,000 keys",
    ),
    "metric key asked for": (
        lambda a, w: a.metrics(NO_RUN, ["k" * 251]),
        "metric key has 251 characters; at most 250 characters",
    ),
    "removed paths": (
        lambda a, w: a.create_snapshot("p", [], base=w.snap, removed=["x"] * 500_001),
        "removed paths has 500,001 entries; at most 500,000 entries",
    ),
    "path component": (
        snapshot(file("d/" + "n" * 256)),
        "path 'd/nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'…: component 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'… is "
        "256 bytes; at most 255 bytes",
    ),
    "path component of multi-byte characters": (
        snapshot(file("é" * 128)),  # 128 characters, 256 bytes
        "is 256 bytes; at most 255 bytes",
    ),
    "path": (snapshot(file("/".join(["d" * 200] * 6))), "is 1,205 bytes; at most 1 KiB"),
    "symlink target": (
        snapshot(lambda w: Entry("l", LINK, limits.SYMLINK_TARGET.most + 1, w.long_link)),
        "symlink 'l' has a target longer than 4095 bytes",
    ),
}


@pytest.mark.parametrize("field", OVER, ids=list(OVER))
def test_a_field_over_its_limit_is_refused_and_changes_nothing(admin: Client, world: World, field: str) -> None:
    call, says = OVER[field]
    before = db_state(world.rc)
    with pytest.raises(KilnError) as refused:
        call(admin, world)
    message = str(refused.value)
    assert isinstance(refused.value, InvalidArgument), message[:300]
    assert says in message and "\n" not in message and len(message) < 400
    assert db_state(world.rc) == before


def test_fields_within_their_limits_are_taken(admin: Client, world: World) -> None:
    """The limits are not off by one: the largest allowed value of each kind goes through."""
    admin.create_project("q", "d" * 4 * KiB)
    admin.create_snapshot("p", [Entry("hello.txt", FILE, 5, world.digest)], message="m" * 4 * KiB)
    admin.create_snapshot("p", [Entry("é" * 127 + "e", FILE, 5, world.digest)])  # 255 bytes
    spec = RunSpec(
        "p",
        ("echo", "x" * (8 * KiB - 4), "y" * 8 * KiB),  # 16 KiB in all
        env={f"V{i}": "v" * 100 for i in range(128)},
        node_labels={f"k{i}": "v" for i in range(32)},
        image="busybox",
    )
    with pytest.raises(KilnError, match="no node"):  # refused only because nothing could ever run it
        admin.submit_run(spec)
    assert len(admin.search_runs("p", " and ".join(f"params.p{i} = 1" for i in range(20)))) == 0


def test_a_failed_sign_in_keeps_only_a_short_escaped_prefix_of_the_name(coordinator: Any, admin: Client) -> None:
    claimed = "eve\n\x1b[31m" + "x" * 200
    with client_for(coordinator) as anonymous, pytest.raises(KilnError, match="wrong user name or password"):
        anonymous.login(claimed, "a-wrong-password")
    [record] = admin.list_audit(action_prefix="auth.login_failed")
    assert record.actor == record.target == "eve\\n\\x1b[31m" + "x" * 55 + "…"  # 64 characters, escaped
    assert len(record.target) <= limits.AUDIT_NAME_CHARS + 20 and "\n" not in record.target
