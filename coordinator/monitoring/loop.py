"""The coordinator's watch: every second, on a thread of its own (numpy's work and a channel's network
wait never hold the event loop or the dispatcher), it judges the monitors that are due and sends the
notifications that are due. A breach computed in one pass is told in the same pass, so the first
notification leaves within a second or two of the breach being computed, and its retries follow the
outbox's backoff."""

from __future__ import annotations

import asyncio
import logging

from kiln.coordinator.alerts import outbox
from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import evaluate
from kiln.core import clock

log = logging.getLogger("kiln.coordinator.monitoring")

PASS_S = 1.0


def one_pass(ctx: Coordinator, now: float) -> None:
    evaluate.evaluate_due(ctx, now)
    outbox.deliver_due(ctx, now)


async def run_forever(ctx: Coordinator) -> None:
    while True:
        try:
            await asyncio.to_thread(one_pass, ctx, clock.now())
        except Exception:  # a bug in one pass must not end the watch
            log.exception("a monitoring pass failed")
        await asyncio.sleep(PASS_S)
