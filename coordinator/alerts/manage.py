"""Alerts as entities, and a project's channels.

An alert is one breach of one rule of one monitor ("drift", "health", or a KPI): it fires once, is
acknowledged by a person, and resolves when a later window no longer breaches the rule. While it stays
open (firing or acknowledged) a repeated breach only counts (`count`, `last_at`): people are told once,
and again when it resolves. Every change is audited; the coordinator acts as "monitor:NAME". Telling is
the outbox's (coordinator/alerts/outbox.py): each change queues one notification per channel of the
project whose minimum severity the alert reaches, in the same transaction as the change.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from kiln.coordinator.access import require_project
from kiln.coordinator.alerts import channels as channel_defs
from kiln.coordinator.alerts.delivery import DeliveryError, Notification, send
from kiln.coordinator.context import Coordinator
from kiln.core import clock, limits
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kiln.core.names import check_name
from kiln.core.permissions import Need, Principal

STATES = ("firing", "acknowledged", "resolved")
MAX_CHANNELS = 50
SUMMARY_CHARS = 2000


def fire(
    ctx: Coordinator,
    monitor: Mapping[str, Any],
    rule: str,
    severity: str,
    title: str,
    summary: str,
    details: Mapping[str, object],
    now: float,
) -> tuple[dict[str, Any], bool]:
    """The open alert of this rule, made now if there is none; (alert, whether it is new)."""
    store = ctx.store
    with store.transaction():
        found = store.open_alert(monitor["id"], rule)
        summary = limits.cut(summary, SUMMARY_CHARS)
        if found is not None:
            store.update_alert(found["id"], last_at=now, count=found["count"] + 1, summary=summary,
                               details_json=json.dumps(details, default=str))  # fmt: skip
            return {**found, "last_at": now, "count": found["count"] + 1, "summary": summary}, False
        row = {
            "id": f"a-{secrets.token_hex(6)}", "project": monitor["project"], "monitor": monitor["id"], "rule": rule,
            "severity": severity, "state": "firing", "title": title, "summary": summary,
            "details_json": json.dumps(details, default=str), "first_at": now, "last_at": now, "count": 1,
        }  # fmt: skip
        store.add_alert(row)
        said = {"project": monitor["project"], "rule": rule, "severity": severity, "title": title}
        store.append_audit(f"monitor:{monitor['name']}", "alert.fire", row["id"], said)
        _notify(ctx, row, "firing", now)
    return row, True


def resolve(ctx: Coordinator, monitor: Mapping[str, Any], rule: str, why: str, now: float) -> dict[str, Any] | None:
    """Resolves the open alert of this rule, if any (the resolution is told like the firing)."""
    store = ctx.store
    with store.transaction():
        found = store.open_alert(monitor["id"], rule)
        if found is None:
            return None
        store.update_alert(found["id"], state="resolved", resolved_at=now, summary=limits.cut(why, SUMMARY_CHARS))
        store.append_audit(f"monitor:{monitor['name']}", "alert.resolve", found["id"],
                           {"project": found["project"], "rule": rule, "why": limits.cut(why, 300)})  # fmt: skip
        resolved = {**found, "state": "resolved", "resolved_at": now, "summary": why}
        _notify(ctx, resolved, "resolved", now)
    return resolved


def acknowledge(ctx: Coordinator, who: Principal, alert_id: str) -> dict[str, Any]:
    row = alert_row(ctx, who, alert_id, Need.WRITE)
    if row["state"] != "firing":
        raise FailedPrecondition(f"alert {alert_id} is {row['state']}; only a firing alert is acknowledged")
    now = clock.now()
    with ctx.store.transaction():
        ctx.store.update_alert(alert_id, state="acknowledged", acked_by=who.user, acked_at=now)
        ctx.store.append_audit(who.user, "alert.acknowledge", alert_id, {"project": row["project"]})
    return {**row, "state": "acknowledged", "acked_by": who.user, "acked_at": now}


def alert_row(ctx: Coordinator, who: Principal, alert_id: str, need: Need = Need.READ) -> dict[str, Any]:
    limits.REFERENCE.check(alert_id, field="alert id")
    row = ctx.store.alert(alert_id.strip())
    if row is None:
        raise NotFound(f"no alert {alert_id!r} (kiln alerts lists them)")
    require_project(ctx.store, who, need, row["project"])
    return row


def list_alerts(ctx: Coordinator, who: Principal, project: str, state: str, limit: int) -> list[dict[str, Any]]:
    if state and state not in STATES:
        raise InvalidArgument(f"--state must be one of {', '.join(STATES)}")
    if project:
        require_project(ctx.store, who, Need.READ, project)
        projects: list[str] | None = [project]
    else:
        projects = None if who.is_admin else [p.name for p in ctx.store.projects(who.user, include_archived=True)]
    return ctx.store.alerts(projects, state, limit)


def _notify(ctx: Coordinator, alert: Mapping[str, Any], state: str, now: float) -> None:
    rows = ctx.store.channels(alert["project"])
    chosen = channel_defs.routes([channel_defs.from_json(r["channel_json"]) for r in rows], alert["severity"])
    payload = json.dumps(_notification(alert, state).__dict__, default=str)
    for channel in chosen:
        row = {"alert": alert["id"], "project": alert["project"], "channel": channel.name, "payload_json": payload,
               "state": "pending", "next_at": now, "created_at": now}  # fmt: skip
        ctx.store.add_notification(row)


def _notification(alert: Mapping[str, Any], state: str) -> Notification:
    return Notification(
        alert_id=alert["id"], project=alert["project"], title=alert["title"], severity=alert["severity"], state=state,
        summary=alert["summary"], details=json.loads(alert.get("details_json") or "{}"),
        url=f"kiln alert show {alert['id']}", at=float(alert["last_at"] if state == "firing" else clock.now()),
    )  # fmt: skip


def list_notifications(
    ctx: Coordinator, who: Principal, project: str, state: str, alert: str, limit: int
) -> list[dict[str, Any]]:
    """A project's notifications, newest first (state "dead": the dead-letter list, each with its last error)."""
    require_project(ctx.store, who, Need.READ, project)
    limits.REFERENCE.check(alert, field="alert id")
    if state and state not in ("pending", "sent", "dead"):
        raise InvalidArgument("--state must be pending, sent or dead")
    return ctx.store.notifications(project, state, alert, limit)


# -- channels ------------------------------------------------------------------------------------------------


def add_channel(
    ctx: Coordinator, who: Principal, project: str, name: str, kind: str, options: Mapping[str, str]
) -> dict[str, Any]:
    check_name("channel", name)
    require_project(ctx.store, who, Need.MANAGE, project)
    try:
        channel = channel_defs.parse_channel(name, kind, options)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    if ctx.store.channel(project, name) is not None:
        raise AlreadyExists(f"project {project} already has a channel named {name!r}")
    if len(ctx.store.channels(project)) >= MAX_CHANNELS:
        raise FailedPrecondition(f"project {project} has {MAX_CHANNELS} channels, the most it may have")
    row = {"project": project, "name": name, "kind": kind, "channel_json": channel_defs.to_json(channel, False),
           "created_by": who.user, "created_at": clock.now()}  # fmt: skip
    with ctx.store.transaction():
        ctx.store.add_channel(row)
        ctx.store.append_audit(who.user, "alert.channel.add", f"{project}/{name}", {"kind": kind})
    return public(row)


def remove_channel(ctx: Coordinator, who: Principal, project: str, name: str) -> None:
    require_project(ctx.store, who, Need.MANAGE, project)
    if ctx.store.channel(project, name) is None:
        raise NotFound(f"project {project} has no channel named {name!r}")
    with ctx.store.transaction():
        ctx.store.delete_channel(project, name)
        ctx.store.append_audit(who.user, "alert.channel.remove", f"{project}/{name}", {})


def list_channels(ctx: Coordinator, who: Principal, project: str) -> list[dict[str, Any]]:
    require_project(ctx.store, who, Need.READ, project)
    return [public(r) for r in ctx.store.channels(project)]


def test_channel(ctx: Coordinator, who: Principal, project: str, name: str) -> str:
    """Sends a test notification now; the channel's receipt, or FailedPrecondition saying what failed."""
    require_project(ctx.store, who, Need.WRITE, project)
    row = ctx.store.channel(project, name)
    if row is None:
        raise NotFound(f"project {project} has no channel named {name!r}")
    note = Notification(alert_id="test", project=project, title=f"Test of channel {name}", severity="info",
                        state="firing", summary=f"{who.user} tested this channel from Kiln.", details={},
                        at=clock.now())  # fmt: skip
    try:
        return send(channel_defs.from_json(row["channel_json"]), note)
    except DeliveryError as e:
        raise FailedPrecondition(f"channel {name} failed: {e}") from None


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A channel as people see it: its secrets hidden."""
    shown = channel_defs.to_json(channel_defs.from_json(row["channel_json"]), True)
    return {"project": row["project"], "name": row["name"], "kind": row["kind"], "channel_json": shown,
            "created_by": row["created_by"], "created_at": row["created_at"]}  # fmt: skip
