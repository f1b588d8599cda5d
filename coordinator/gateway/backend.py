"""What the gateway asks of the coordinator, as one small async interface.

The gateway keeps no state of its own beyond a spool: routes, tokens, the ledger and feedback all live
with the coordinator. The real implementation speaks gRPC (written beside the coordinator's servicers);
the gateway codes against `GatewayBackend` only, so it never sees the wire, and tests run it against
`StaticBackend`, an in-memory stand-in.

Records are shipped at least once (a gateway killed after `record` returned but before it noted the
offset sends them again), so a backend must treat `record` as idempotent by `PredictionRecord.id`: a
record whose id it already holds is ignored. `StaticBackend` does that.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from kiln.core import defaults
from kiln.core.deployments import PredictionRecord, RouteTable

MAX_CACHED = 10_000


@dataclass(frozen=True)
class Authorization:
    """The backend's answer to "may this token call this endpoint?"."""

    allowed: bool
    caller: str = ""  # who it is (a user name or an endpoint token's name), kept in the ledger
    status: int = 0  # when refused: 401 (unknown or expired token), 403 (no access) or 404 (no such endpoint)
    message: str = ""  # when refused: what went wrong and what to do, shown to the client


class GatewayBackend(Protocol):
    async def routes(self, generation: int) -> RouteTable | None:
        """The route table, or None when it has not changed since `generation` (polled several times a
        second by every gateway, so an unchanged table must cost next to nothing)."""
        ...

    async def authorize(self, token: str, endpoint: str) -> Authorization:
        """Whether `token` may call `endpoint`; raises only when the backend cannot be reached."""
        ...

    async def record(self, records: list[PredictionRecord]) -> None:
        """Keeps these records in the ledger (idempotent by id); raises on failure, and the caller retries
        the same records later."""
        ...

    async def feedback(self, endpoint: str, caller_token: str, rows: list[tuple[str, str]]) -> int:
        """Joins ground truth (prediction id, label) to the ledger; returns how many rows matched a
        prediction of `endpoint`. Raises PermissionError (the client gets 403) or ValueError (400) with a
        message for the client when it refuses the rows; anything else is a 503 to retry."""
        ...


@dataclass
class StaticBackend:
    """An in-memory backend for tests: a route table the test edits, tokens mapped to a caller and the
    endpoints it may call, and the records it was given (deduplicated by id, as the real one must)."""

    table: RouteTable = field(default_factory=lambda: RouteTable(1))
    tokens: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    records: dict[str, PredictionRecord] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    fail_record: bool = False  # while True, `record` raises (to test the shipper's retries)
    authorize_calls: int = 0
    record_calls: int = 0

    def add_token(self, token: str, caller: str, endpoints: Iterable[str]) -> None:
        self.tokens[token] = (caller, frozenset(endpoints))

    def set_table(self, table: RouteTable) -> None:
        """Replaces the table, bumping the generation past the old one when the caller did not."""
        if table.generation <= self.table.generation:
            table = replace(table, generation=self.table.generation + 1)
        self.table = table

    async def routes(self, generation: int) -> RouteTable | None:
        return None if generation == self.table.generation else self.table

    async def authorize(self, token: str, endpoint: str) -> Authorization:
        self.authorize_calls += 1
        known = self.tokens.get(token)
        if known is None:
            return Authorization(False, "", 401, "the token is unknown or expired; ask for a new endpoint token")
        caller, endpoints = known
        if endpoint not in endpoints:
            return Authorization(False, caller, 403, f"{caller} may not call endpoint {endpoint}; ask its owner")
        return Authorization(True, caller)

    async def record(self, records: list[PredictionRecord]) -> None:
        self.record_calls += 1
        if self.fail_record:
            raise ConnectionError("the ledger is unreachable (StaticBackend.fail_record)")
        for r in records:
            self.records.setdefault(r.id, r)

    async def feedback(self, endpoint: str, caller_token: str, rows: list[tuple[str, str]]) -> int:
        joined = 0
        for prediction_id, label in rows:
            r = self.records.get(prediction_id)
            if r is not None and r.endpoint == endpoint:
                self.labels[prediction_id] = label
                joined += 1
        return joined


class AuthCache:
    """`backend.authorize`, remembered per (sha256 of the token, endpoint) so the hot path asks nobody.
    Only the token's hash is kept; concurrent misses for one key share one backend call."""

    def __init__(
        self,
        backend: GatewayBackend,
        allowed_for_s: float = defaults.GATEWAY_TOKEN_ALLOWED_FOR_S,
        refused_for_s: float = defaults.GATEWAY_TOKEN_REFUSED_FOR_S,
        max_entries: int = MAX_CACHED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.allowed_for_s, self.refused_for_s, self.max_entries = allowed_for_s, refused_for_s, max_entries
        self.clock = clock
        self._entries: dict[tuple[bytes, str], tuple[float, Authorization]] = {}
        self._asking: dict[tuple[bytes, str], asyncio.Task[Authorization]] = {}

    async def check(self, token: str, endpoint: str) -> Authorization:
        """The (possibly remembered) answer; raises what the backend raised when it could not answer."""
        key = (hashlib.sha256(token.encode()).digest(), endpoint)
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        task = self._asking.get(key)
        if task is None:
            task = asyncio.ensure_future(self._ask(key, token, endpoint))
            self._asking[key] = task
            task.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(task)

    async def _ask(self, key: tuple[bytes, str], token: str, endpoint: str) -> Authorization:
        answer = await self.backend.authorize(token, endpoint)
        now = self.clock()
        if len(self._entries) >= self.max_entries:
            self._evict(now)
        self._entries[key] = (now + (self.allowed_for_s if answer.allowed else self.refused_for_s), answer)
        return answer

    def _evict(self, now: float) -> None:
        """Drops what expired, and when that is not enough the older half (a flood of made-up tokens)."""
        for k in [k for k, (until, _) in self._entries.items() if until <= now]:
            del self._entries[k]
        if len(self._entries) >= self.max_entries:
            for k in list(self._entries)[: len(self._entries) // 2]:
                del self._entries[k]
