"""A run folder materialised on a node: a snapshot the node has run before starts without a call for its
manifest or its blobs (manifests never change; the blob cache holds the content), against a real
coordinator."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kiln.agent.workspace import BlobCache, Manifests, materialize
from kiln.core.errors import NotFound
from kiln.core.manifest import Entry
from tests.compute.conftest import push_folder


class Counting:
    """A real client whose calls are counted by name."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, Counter[str]()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.client, name)


def test_a_snapshot_run_again_needs_no_call_for_its_manifest_or_blobs(cluster):
    snap = push_folder(cluster, {"train.py": "print('hi')\n", "data/rows.csv": "a,b\n"})
    cache = BlobCache(cluster.tmp / "node" / "cache")
    client = Counting(cluster.admin)
    first = materialize(client, cache, "p", snap, cluster.tmp / "run1", cluster.tmp / "stat1")
    assert client.calls == Counter(get_snapshot=1, read_blobs=1)

    client.calls.clear()
    again = materialize(client, cache, "p", snap, cluster.tmp / "run2", cluster.tmp / "stat2")
    assert client.calls == Counter()
    assert again == first
    assert (cluster.tmp / "run2" / "data" / "rows.csv").read_text() == "a,b\n"
    assert (cluster.tmp / "run2" / "train.py").read_text() == "print('hi')\n"

    # Through another project the same id is asked for again: what a project holds is the coordinator's
    # to say, and this one does not hold it.
    cluster.admin.create_project("q")
    client.calls.clear()
    with pytest.raises(NotFound):
        materialize(client, cache, "q", snap, cluster.tmp / "run3", cluster.tmp / "stat3")
    assert client.calls == Counter(get_snapshot=1)


def test_the_manifest_cache_keeps_the_most_recently_used_within_its_bound():
    def entries(n: int) -> list[Entry]:
        return [Entry(f"f{i}", 0o100644, 1, "0" * 64) for i in range(n)]

    held = Manifests(max_entries=10)
    held.put(("p", "a"), entries(4))
    held.put(("p", "b"), entries(4))
    assert held.get(("p", "a")) is not None  # a is now the most recently used
    held.put(("p", "c"), entries(4))  # 12 entries: the least recently used (b) goes
    assert held.get(("p", "b")) is None
    assert held.get(("p", "a")) is not None and held.get(("p", "c")) is not None
    held.put(("p", "huge"), entries(11))  # more than the whole bound: not held, nothing evicted
    assert held.get(("p", "huge")) is None and held.get(("p", "a")) is not None
