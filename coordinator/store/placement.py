"""What the dispatcher reads of the runs table on every tick, summed up by SQLite rather than row by row:
what the active runs hold on each node, how many each user has, and which wait for a cancel to be sent.
A tick runs after every burst of submissions and every run that ends, so it must cost little however many
runs are active."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from kiln.coordinator.store.base import Database
from kiln.core.runs import ACTIVE


class NodeUse(NamedTuple):
    """What a node's active runs hold (a named tuple: one is made per busy node on every tick)."""

    cpus: float = 0.0
    memory_bytes: int = 0
    gpu_uuids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ActiveUse:
    nodes: dict[str, NodeUse] = field(default_factory=dict)  # by node ("" for an active run with none)
    users: Counter[str] = field(default_factory=Counter)  # active runs per user


# Runs on a node: those made through the MLflow API (runtime external) hold no node and nothing of one.
_ACTIVE_SQL = f"state IN ({', '.join(repr(str(s)) for s in sorted(ACTIVE))}) AND node != ''"


class PlacementTables(Database):
    def active_use(self) -> ActiveUse:
        """The resources the active runs hold, per node, and the number of active runs per user."""
        nodes = self._rows(
            "SELECT node, total(json_extract(spec_json, '$.resources.cpus')) AS cpus, "
            "total(json_extract(spec_json, '$.resources.memory_bytes')) AS memory "
            f"FROM runs WHERE {_ACTIVE_SQL} GROUP BY node"
        )
        gpus: dict[str, set[str]] = {}
        for r in self._rows(f"SELECT node, gpu_uuids_json FROM runs WHERE {_ACTIVE_SQL} AND gpu_uuids_json != '[]'"):
            gpus.setdefault(r["node"], set()).update(json.loads(r["gpu_uuids_json"]))
        users = self._rows(f"SELECT user, count(*) AS n FROM runs WHERE {_ACTIVE_SQL} GROUP BY user")
        return ActiveUse(
            {r["node"]: NodeUse(r["cpus"], int(r["memory"]), frozenset(gpus.get(r["node"], ()))) for r in nodes},
            Counter({r["user"]: r["n"] for r in users}),
        )

    def cancels_due(self) -> list[tuple[str, int, str]]:
        """(run, attempt, node) of the active runs a user asked to cancel."""
        rows = self._rows(f"SELECT id, attempt, node FROM runs WHERE {_ACTIVE_SQL} AND cancel_requested")
        return [(r["id"], r["attempt"], r["node"]) for r in rows]
