"""Which nodes are alive, from their connections and heartbeats (kept in memory: heartbeats are frequent
and need not be written to disk). A silent node is first `unreachable` (its runs keep their state), and
only past the grace period `offline` (its runs are then lost and retried)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core import clock
from kiln.core.models import Inventory


@dataclass
class Liveness:
    heartbeat_timeout_s: float
    lost_grace_s: float
    # A coordinator that just started has heard from no one: every node gets a full grace period to
    # reconnect before its runs are declared lost.
    started_at: float = field(default_factory=clock.now)
    last_seen: dict[str, float] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)
    inventory: dict[str, Inventory] = field(default_factory=dict)

    def seen(self, node: str, inventory: Inventory | None = None) -> None:
        self.last_seen[node] = clock.now()
        if inventory is not None:
            self.inventory[node] = inventory

    def connect(self, node: str) -> None:
        self.connected.add(node)
        self.seen(node)

    def disconnect(self, node: str) -> None:
        self.connected.discard(node)

    def silence(self, node: str) -> float:
        return clock.now() - self.last_seen.get(node, self.started_at)

    def state(self, node: str) -> str:
        """ready, unreachable or offline (the node's drained flag is the store's business)."""
        silence = self.silence(node)
        if silence > self.lost_grace_s:
            return "offline"
        if node not in self.connected or silence > self.heartbeat_timeout_s:
            return "unreachable"
        return "ready"

    def is_ready(self, node: str) -> bool:
        return self.state(node) == "ready"

    def is_lost(self, node: str) -> bool:
        return self.state(node) == "offline"
