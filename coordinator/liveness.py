"""Which nodes are alive, from their connections and heartbeats (kept in memory: heartbeats are frequent
and need not be written to disk). A silent node is first `unreachable` (its runs keep their state), and
only past the grace period `offline` (its runs are then lost and retried).

Every question takes `now`, so the decisions are tested on a fake clock. The server's event loop marks a
node as heard from the moment a message arrives, while the dispatcher reads the state from its own
thread: a lock keeps the two consistent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kiln.core.models import Inventory


@dataclass
class Liveness:
    heartbeat_timeout_s: float
    lost_grace_s: float
    # A coordinator that just started has heard from no one: every node gets a full grace period to
    # reconnect before its runs are declared lost.
    started_at: float
    last_seen: dict[str, float] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)
    inventory: dict[str, Inventory] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seen(self, node: str, now: float, inventory: Inventory | None = None) -> None:
        with self._lock:
            self.last_seen[node] = max(now, self.last_seen.get(node, now))
            if inventory is not None:
                self.inventory[node] = inventory

    def connect(self, node: str, now: float) -> None:
        with self._lock:
            self.connected.add(node)
        self.seen(node, now)

    def disconnect(self, node: str) -> None:
        with self._lock:
            self.connected.discard(node)

    def forget(self, node: str) -> None:
        """A removed node: nothing about it is kept."""
        with self._lock:
            self.connected.discard(node)
            self.last_seen.pop(node, None)
            self.inventory.pop(node, None)

    def silence(self, node: str, now: float) -> float:
        with self._lock:
            return now - self.last_seen.get(node, self.started_at)

    def state(self, node: str, now: float) -> str:
        """ready, unreachable or offline (the node's drained flag is the store's business)."""
        silence = self.silence(node, now)
        if silence > self.lost_grace_s:
            return "offline"
        with self._lock:
            connected = node in self.connected
        if not connected or silence > self.heartbeat_timeout_s:
            return "unreachable"
        return "ready"

    def is_ready(self, node: str, now: float) -> bool:
        return self.state(node, now) == "ready"

    def ready(self, now: float) -> dict[str, Inventory]:
        """Every node that is ready now (as `state` says), with the inventory it last sent: one look under
        the lock for a whole scheduling pass, not one per node."""
        limit, nothing = min(self.heartbeat_timeout_s, self.lost_grace_s), Inventory()
        with self._lock:
            return {
                node: self.inventory.get(node, nothing)
                for node in self.connected
                if now - self.last_seen.get(node, self.started_at) <= limit
            }

    def lost(self, nodes: list[str], now: float) -> list[str]:
        """Those of `nodes` that are offline now (as `state` says)."""
        with self._lock:
            return [n for n in nodes if now - self.last_seen.get(n, self.started_at) > self.lost_grace_s]

    def is_lost(self, node: str, now: float) -> bool:
        return self.state(node, now) == "offline"

    def inventory_of(self, node: str, default: Inventory) -> Inventory:
        with self._lock:
            return self.inventory.get(node, default)

    def last_seen_of(self, node: str, default: float) -> float:
        with self._lock:
            return self.last_seen.get(node, default)

    def connected_count(self) -> int:
        with self._lock:
            return len(self.connected)
