"""The stat cache's one file: written once per push in its compact form, an older JSON cache taken over and
removed, anything unreadable discarded (costing a re-read, never a wrong digest or a crash)."""

from __future__ import annotations

import json

import pytest

from kiln.sync import statcache
from kiln.sync.push import push
from kiln.sync.statcache import StatCache
from tests.treeutil import age, sample_project

ROW = [0o100644, 12, 1_700_000_000_000_000_000, 42, "ab" * 32]


@pytest.fixture
def project(admin):
    admin.create_project("demo")
    return "demo"


def _cache(tmp_path):
    (tmp_path / "src").mkdir(exist_ok=True)
    return StatCache.for_folder(tmp_path / "cache", tmp_path / "src")


def test_a_cache_reads_back_what_was_written(tmp_path):
    cache = _cache(tmp_path)
    cache.state, cache.state_id, cache.last_snapshot, cache.dirty = (
        {"a.txt": list(ROW)},
        "f" * 64,
        {"p": "f" * 64},
        True,
    )
    cache.write()
    assert cache.path.read_bytes().startswith(statcache.MAGIC)
    again = _cache(tmp_path)
    assert (again.state, again.state_id, again.last_snapshot) == ({"a.txt": ROW}, "f" * 64, {"p": "f" * 64})
    assert not again.dirty


def test_an_old_json_cache_is_taken_over_then_removed(tmp_path):
    name = _cache(tmp_path).path.stem
    legacy = tmp_path / "cache" / f"{name}.json"
    legacy.parent.mkdir()
    legacy.write_text(json.dumps({"state": {"a.txt": ROW}, "state_id": "e" * 64, "last_snapshot": {"p": "e" * 64}}))
    cache = _cache(tmp_path)
    assert cache.state == {"a.txt": ROW} and cache.state_id == "e" * 64 and cache.dirty
    cache.write()
    assert not legacy.exists() and _cache(tmp_path).state == {"a.txt": ROW}


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", statcache.MAGIC + b"\x00\x01torn", statcache.MAGIC[:-2] + b"9\n" + b"other version"],
)
def test_an_unreadable_cache_is_discarded(tmp_path, content):
    path = _cache(tmp_path).path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    cache = _cache(tmp_path)
    assert (cache.state, cache.state_id, cache.last_snapshot) == ({}, "", {})


def test_a_cache_of_the_wrong_shape_is_discarded(tmp_path):
    import marshal

    path = _cache(tmp_path).path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(statcache.MAGIC + marshal.dumps(({"a.txt": [1, 2]}, "", {})))
    assert _cache(tmp_path).state == {}


def test_a_push_after_an_old_cache_reads_nothing_again(admin, project, tmp_path, monkeypatch):
    src = sample_project(tmp_path / "src")
    age(src)
    first = push(admin, src, project, "", tmp_path / "cache")
    cache = StatCache.for_folder(tmp_path / "cache", src)
    legacy = cache.path.with_suffix(".json")
    legacy.write_text(
        json.dumps({"state": cache.state, "state_id": cache.state_id, "last_snapshot": cache.last_snapshot})
    )
    cache.path.unlink()
    from kiln.sync import push as push_module

    read: list[str] = []
    real = push_module._hash_local
    monkeypatch.setattr(push_module, "_hash_local", lambda root, e: read.append(e.path) or real(root, e))
    again = push(admin, src, project, "", tmp_path / "cache")
    assert read == [] and again.snapshot.id == first.snapshot.id and again.bytes_uploaded == 0
    assert not legacy.exists() and cache.path.exists()
