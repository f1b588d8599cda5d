"""Where the coordinator's blocking work runs: never on the server's event loop.

The event loop only moves bytes: it reads heartbeats, accepts calls and sends replies. Everything that
blocks — the store, hashing, password hashing, exports, audit verification — runs here, on one of three
bounded lanes, so a slow call delays only the calls behind it in its own lane:

- `quick`: ordinary store reads and writes (most unary calls);
- `heavy`: work that is CPU-bound or long by nature (sign-in's scrypt, verifying the audit chain, big
  manifests and searches, exports), fewer threads than cores so quick calls always find a core;
- `dispatch`: the agent link's decisions, on one thread, one event at a time, in order.

A lane whose queue is full refuses new work with RESOURCE_EXHAUSTED instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, ParamSpec, TypeVar

from kiln.core.errors import ResourceExhausted

Lane = Literal["quick", "heavy", "dispatch"]
P = ParamSpec("P")
T = TypeVar("T")

QUICK_THREADS = 4
HEAVY_THREADS = 2
# Calls waiting for a lane beyond its threads; past this the caller is told to come back.
QUEUE_LIMIT = {"quick": 512, "heavy": 64, "dispatch": 1 << 20}
LANE_ATTRIBUTE = "__kiln_lane__"


def heavy(method: Callable[P, T]) -> Callable[P, T]:
    """Marks a servicer method whose work is CPU-bound or long, so it runs on the heavy lane."""
    setattr(method, LANE_ATTRIBUTE, "heavy")
    return method


def lane_of(method: object) -> Lane:
    lane: Lane = getattr(method, LANE_ATTRIBUTE, "quick")
    return lane


class Workers:
    def __init__(self, quick: int = QUICK_THREADS, heavy: int = HEAVY_THREADS) -> None:
        self._pools: dict[Lane, ThreadPoolExecutor] = {
            "quick": ThreadPoolExecutor(quick, thread_name_prefix="kiln-quick"),
            "heavy": ThreadPoolExecutor(heavy, thread_name_prefix="kiln-heavy"),
            "dispatch": ThreadPoolExecutor(1, thread_name_prefix="kiln-dispatch"),
        }
        self._waiting: dict[Lane, int] = dict.fromkeys(self._pools, 0)

    async def run(self, lane: Lane, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on `lane`, in a copy of the caller's context (so the signed-in principal
        travels with the call); the loop is free while it runs."""
        self.admit(lane)
        return await self.run_admitted(lane, fn, *args, **kwargs)

    def admit(self, lane: Lane) -> None:
        """Refuses a call when its lane is full (the agents' calls skip this: a node is never turned away
        for being one of many that reconnect at once, and there are only as many as there are nodes)."""
        if self._waiting[lane] >= QUEUE_LIMIT[lane]:
            raise ResourceExhausted(
                f"the coordinator is busy ({self._waiting[lane]} calls are waiting for it); try again in a moment"
            )

    async def run_admitted(self, lane: Lane, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`run()`, without the check of the lane's queue."""
        context = contextvars.copy_context()
        self._waiting[lane] += 1
        try:
            call = functools.partial(context.run, fn, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._pools[lane], call)
        finally:
            self._waiting[lane] -= 1

    def submit(self, lane: Lane, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> None:
        """`fn` on `lane` without waiting for it: clean-up that must run however a call ended."""
        self._pools[lane].submit(fn, *args, **kwargs)

    def waiting(self, lane: Lane) -> int:
        return self._waiting[lane]

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
