"""The notifications outbox: each pending notification sent when due, retried with backoff while the
channel's failure may pass (a 5xx, a refused connection, an SMTP 4xx), and dead-lettered once it cannot
(a 4xx, a certificate or sign-in refused, MAX_ATTEMPTS tries): `kiln alert dead-letters` lists those with
the last error. Sent at least once: each is claimed before it is sent, and a coordinator killed between a send
and its record sends it again once the claim lapses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from kiln.coordinator.alerts import channels as channel_defs
from kiln.coordinator.alerts.delivery import MAX_ATTEMPTS, DeliveryError, Notification, backoff_s, send
from kiln.coordinator.context import Coordinator
from kiln.core import limits

log = logging.getLogger("kiln.coordinator.alerts")

Send = Callable[[channel_defs.Channel, Notification], str]
CLAIM_S = 120.0  # a claimed notification not recorded by then (its sender died) is sent again


def deliver_due(ctx: Coordinator, now: float, sender: Send = send) -> int:
    """Sends every notification due now; returns how many were sent."""
    sent = 0
    for row in ctx.store.due_notifications(now):
        found = ctx.store.channel(row["project"], row["channel"])
        if found is None:
            ctx.store.update_notification(row["id"], state="dead", last_error="the channel was removed")
            continue
        if not ctx.store.claim_notification(row["id"], now, now + CLAIM_S):
            continue  # another sender has it
        attempts = int(row["attempts"]) + 1
        try:
            note = Notification(**json.loads(row["payload_json"]))
            receipt = sender(channel_defs.from_json(found["channel_json"]), note)
        except Exception as e:  # DeliveryError says whether to retry; anything else is a bug, tried again later
            retryable = e.retryable if isinstance(e, DeliveryError) else True
            if not isinstance(e, DeliveryError):
                log.exception("sending notification %s failed unexpectedly", row["id"])
            error = limits.cut(str(e) or type(e).__name__, 1000)
            if retryable and attempts < MAX_ATTEMPTS:
                ctx.store.update_notification(row["id"], attempts=attempts, next_at=now + backoff_s(attempts),
                                              last_error=error)  # fmt: skip
            else:
                log.warning("notification %s to %s dead-lettered: %s", row["id"], row["channel"], error)
                ctx.store.update_notification(row["id"], attempts=attempts, state="dead", last_error=error)
            continue
        ctx.store.update_notification(row["id"], attempts=attempts, state="sent", sent_at=now, last_error=receipt)
        sent += 1
    return sent
