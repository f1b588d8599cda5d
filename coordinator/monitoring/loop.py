"""The coordinator's watch: every second, on a thread of its own (numpy's work and a channel's network
wait never hold the event loop or the dispatcher), it judges the monitors that are due and sends the
notifications that are due. A breach computed in one pass is told in the same pass, so the first
notification leaves within a second or two of the breach being computed, and its retries follow the
outbox's backoff. Stopping waits for a pass under way, so nothing uses the store once it is closed."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from kiln.coordinator.alerts import outbox
from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import evaluate
from kiln.core import clock

log = logging.getLogger("kiln.coordinator.monitoring")

PASS_S = 1.0


def one_pass(ctx: Coordinator, now: float) -> None:
    evaluate.evaluate_due(ctx, now)
    outbox.deliver_due(ctx, now)


class Watch:
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kiln-watch")

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._thread, one_pass, self.ctx, clock.now())
            except Exception:  # a bug in one pass must not end the watch
                log.exception("a monitoring pass failed")
            await asyncio.sleep(PASS_S)

    def close(self) -> None:
        """After the task is cancelled: waits for the pass under way, if any."""
        self._thread.shutdown(wait=True, cancel_futures=True)
