"""`kiln monitor …` (drift, quality and health of an endpoint), `kiln alerts`, `kiln alert …` (acknowledge,
channels, dead letters)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.output import emit_json, table, when
from kiln.cli.session import connect
from kiln.core.errors import InvalidArgument

MONITOR_HELP = """\
examples:
  kiln monitor create churn-watch -p demo --deployment churn --every 5m --window 1h
  kiln monitor create churn-watch -p demo --deployment churn --reference customers:3 --target churned
  kiln monitor create slow-watch -p demo --deployment churn --kpi "p99_latency_ms > 200" --severity critical
  kiln monitor show churn-watch -p demo          health per window, drift per feature, quality per version

KPI metrics: requests, error_rate, p50_latency_ms, p99_latency_ms, drift_share, health, accuracy, precision,
recall, f1, auc, mae, rmse, or metric:KEY (a tracked metric of the project's latest run ended in the
window); operators < <= > >=. --scoring DATASET watches batch scorings into DATASET instead of an
endpoint. Alerts fire on drift (half the features drifted), a health score under --health-below (default
70) and each KPI, and resolve when a later window no longer breaches.
"""

CHANNEL_HELP = """\
examples:
  kiln alert channel add ops -p demo --kind webhook --url https://hooks.example.com/kiln --min-severity warning
  kiln alert channel add team -p demo --kind slack --url https://hooks.slack.com/services/T/B/X
  kiln alert channel add oncall -p demo --kind email --smtp-host mx.example.com --sender k@x.org --to a@x.org
  kiln alert channel add mail -p demo --kind email --smtp-host mx.example.com --sender k@x.org --to a@x.org
      (with --smtp-user NAME --smtp-password-stdin for a server that signs senders in)
"""


def register(sub: Any) -> None:
    g = group(sub, "monitor", "watch an endpoint: drift, quality, latency, errors, KPIs and a health score")
    p = command(g, "create", "a monitor of an endpoint's predictions, judged every interval", create,
                epilog=MONITOR_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("name")
    watched = p.add_mutually_exclusive_group(required=True)
    watched.add_argument("--deployment", "-d", default="", help="the endpoint to watch")
    watched.add_argument("--scoring", default="", metavar="DATASET", help="or the output dataset of batch scorings")
    p.add_argument("--every", default="", help="how often to judge (default 5m)")
    p.add_argument("--window", default="", help="how far back each judgement looks (default 1h)")
    p.add_argument(
        "--statistic", default="", help="psi, jensenshannon, chisquare, ks or wasserstein (default: by size)"
    )
    p.add_argument("--reference", default="", metavar="DATASET[:V]", help="the reference (default: the training data)")
    p.add_argument("--features", default="", help="the model's input columns in order, comma-separated")
    p.add_argument("--target", default="", help="the reference's label column (not a feature)")
    p.add_argument("--latency-slo-ms", type=float, default=0.0, help="p99 latency target (default 250)")
    p.add_argument("--health-below", type=float, default=None, help="alert under this health score (default 70)")
    p.add_argument("--kpi", action="append", default=[], metavar='"METRIC OP VALUE"', help="an alert threshold")
    p.add_argument("--severity", default="", choices=["", "info", "warning", "critical"], help="of its alerts")
    p.add_argument("--min-rows", type=int, default=0, help="fewest rows for a drift verdict (default 30)")
    add_project(p)
    add_json(p)
    for name, func, text in (
        ("show", show, "a monitor: its settings and recent windows (health, drift per feature, quality)"),
        ("run", run_now, "judge the last window now"),
        ("delete", delete, "remove a monitor and its results"),
    ):
        p = command(g, name, text, func)
        p.add_argument("name")
        add_project(p)
        add_json(p)
    p = command(g, "list", "a project's monitors", monitor_list)
    add_project(p)
    add_json(p)

    p = command(sub, "alerts", "alerts: firing, acknowledged and resolved, newest first", alert_list)
    add_project(p, "only this project's (default: $KILN_PROJECT, else kiln project use's; with neither, every one)")
    p.add_argument("--state", default="", choices=["", "firing", "acknowledged", "resolved"])
    p.add_argument("--limit", type=int, default=100)
    add_json(p)
    a = group(sub, "alert", "an alert (show, acknowledge), a project's channels, undelivered notifications")
    p = command(a, "show", "one alert: what breached, when, its notifications", alert_show)
    p.add_argument("id")
    add_json(p)
    p = command(a, "ack", "acknowledge a firing alert (it resolves by itself once the breach ends)", alert_ack)
    p.add_argument("id")
    add_json(p)
    p = command(a, "dead-letters", "notifications that could not be delivered, with the last error", dead_letters)
    add_project(p)
    add_json(p)
    c = group(a, "channel", "where a project's alerts are told: webhook, Slack or email")
    p = command(c, "add", "a channel (alerts of its minimum severity or above go to it)", channel_add,
                epilog=CHANNEL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=["webhook", "slack", "email"])
    p.add_argument("--url", default=None)
    p.add_argument("--min-severity", default=None, choices=["info", "warning", "critical"])
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="sent with each webhook")
    p.add_argument("--smtp-host", default=None)
    p.add_argument("--smtp-port", default=None)
    p.add_argument("--smtp-tls", default=None, choices=["starttls", "tls", "none"])
    p.add_argument("--smtp-user", default=None)
    p.add_argument("--smtp-password-stdin", action="store_true", help="read the SMTP password from stdin")
    p.add_argument("--sender", default=None)
    p.add_argument("--to", default=None, help="recipients, comma-separated")
    add_project(p)
    add_json(p)
    for name, func, text in (
        ("test", channel_test, "send a test notification now"),
        ("remove", channel_remove, "remove a channel"),
    ):
        p = command(c, name, text, func)
        p.add_argument("name")
        add_project(p)
        add_json(p)
    p = command(c, "list", "a project's channels (secrets hidden)", channel_list)
    add_project(p)
    add_json(p)


# -- monitors -------------------------------------------------------------------------------------------------


def create(args: argparse.Namespace) -> int:
    features = tuple(f.strip() for f in args.features.split(",") if f.strip())
    with connect() as client:
        m = client.create_monitor(
            project_of(args), args.name, args.deployment, scoring=args.scoring, every=args.every, window=args.window,
            statistic=args.statistic, reference=args.reference, features=features, target=args.target,
            latency_slo_ms=args.latency_slo_ms, health_below=args.health_below, kpis=args.kpi,
            severity=args.severity, min_rows=args.min_rows,
        )  # fmt: skip
    if args.json:
        emit_json(monitor_dict(m))
        return 0
    sources = m.config.get("reference_sources") or {}
    print(f"monitor {m.name} ({m.id}) of {_watched(m)}: every {m.every_s}s over the last {m.window_s}s")
    for version, source in sorted(sources.items()):
        print(f"  version {version}: reference {source}")
    if not sources:
        print("  no reference profile yet (drift needs one: --reference DATASET[:V])")
    print(f"  see it: kiln monitor show {m.name} -p {m.project}")
    return 0


def monitor_list(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_monitors(project_of(args))
    if args.json:
        emit_json([monitor_dict(m) for m in found])
        return 0
    table(
        ["NAME", "ENDPOINT", "EVERY S", "WINDOW S", "STATE", "NEXT"],
        [(m.name, m.deployment, m.every_s, m.window_s, m.state, when(m.next_at)) for m in found],
        empty="no monitors (kiln monitor create NAME --deployment ENDPOINT)",
    )
    return 0


def show(args: argparse.Namespace) -> int:
    with connect() as client:
        m = client.get_monitor(project_of(args), args.name)
    if args.json:
        emit_json(monitor_dict(m))
        return 0
    print(f"monitor {m.name} ({m.id}) of {_watched(m)}, every {m.every_s}s over {m.window_s}s")
    kpis = [f"{k['metric']} {k['op']} {k['value']:g}" for k in m.config.get("kpis", [])]
    print(f"  health alert under {m.config.get('health_below'):g}" + (f"; KPIs: {', '.join(kpis)}" if kpis else ""))
    print()
    table(
        ["#", "WINDOW END", "REQUESTS", "HEALTH", "DRIFTED", "DRIFT SHARE", "QUALITY", "NOTES"],
        [(r.seq, when(r.window_end), r.requests, "-" if r.health is None else f"{r.health:.0f}",
          "yes" if r.drifted else "no", "-" if r.drift_share is None else f"{r.drift_share:.0%}", _quality(r.result),
          "; ".join(r.result.get("notes", []) + r.result.get("health", {}).get("reasons", []))[:100])
         for r in m.results],
        empty="no windows judged yet (kiln monitor run NAME judges one now)",
    )  # fmt: skip
    latest = m.results[0].result if m.results else {}
    columns = (latest.get("drift") or {}).get("columns", [])
    if columns:
        print(f"\ndrift per feature in window #{m.results[0].seq}:")
        table(
            ["FEATURE", "STATISTIC", "VALUE", "THRESHOLD", "P-VALUE", "DRIFTED"],
            [(c["column"], c["statistic"], f"{c['value']:.4g}", f"{c['threshold']:g}",
              "-" if c["p_value"] is None else f"{c['p_value']:.3g}", "yes" if c["drifted"] else "no")
             for c in columns],
        )  # fmt: skip
    return 0


def _watched(m: Any) -> str:
    """What a monitor watches, in words: an endpoint, or the batch scorings into a dataset."""
    return f"endpoint {m.deployment}" if m.deployment else f"the scorings into {m.config.get('scoring')}"


def _quality(result: dict[str, Any]) -> str:
    main = str(result.get("main_version", ""))
    q = (result.get("quality") or {}).get(main) or {}
    metrics = q.get("metrics") or {}
    shown = [f"{k} {metrics[k]:.3f}" for k in ("accuracy", "auc", "rmse", "mae") if k in metrics]
    return ", ".join(shown[:2]) + (f" (n={q['n']})" if shown else "") if shown else "-"


def run_now(args: argparse.Namespace) -> int:
    with connect() as client:
        r = client.run_monitor(project_of(args), args.name)
    if args.json:
        emit_json({**dataclasses.asdict(r), "result": r.result})
        return 0
    health = "no requests" if r.health is None else f"{r.health:.0f}"
    print(f"window #{r.seq} ({r.lineage_id}): {r.requests} requests, health {health}, drifted: {r.drifted}")
    for note in r.result.get("notes", []) + r.result.get("health", {}).get("reasons", []):
        print(f"  {note}")
    return 0


def delete(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        client.delete_monitor(project, args.name)
    if args.json:
        emit_json({"project": project, "name": args.name, "deleted": True})
    else:
        print(f"monitor {args.name} deleted")
    return 0


def monitor_dict(m: Any) -> dict[str, object]:
    return {
        "id": m.id, "project": m.project, "name": m.name, "deployment": m.deployment, "every_s": m.every_s,
        "window_s": m.window_s, "state": m.state, "created_by": m.created_by, "created_at": when(m.created_at),
        "next_at": when(m.next_at), "config": m.config,
        "results": [{**{k: v for k, v in dataclasses.asdict(r).items() if k != "result_json"}, "result": r.result,
                     "window_end": when(r.window_end), "window_start": when(r.window_start)} for r in m.results],
    }  # fmt: skip


# -- alerts ---------------------------------------------------------------------------------------------------


def alert_list(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_alerts(project_of(args, required=False), args.state, args.limit)
    if args.json:
        emit_json([alert_dict(a) for a in found])
        return 0
    table(
        ["ID", "PROJECT", "SEVERITY", "STATE", "TITLE", "SINCE", "WINDOWS", "ACKED BY"],
        [(a.id, a.project, a.severity, a.state, a.title, when(a.first_at), a.count, a.acked_by) for a in found],
        empty="no alerts",
    )
    return 0


def alert_show(args: argparse.Namespace) -> int:
    with connect() as client:
        a = client.get_alert(args.id)
        sent = client.list_notifications(a.project, alert=a.id)
    if args.json:
        emit_json({**alert_dict(a), "notifications": [dataclasses.asdict(n) for n in sent]})
        return 0
    print(f"alert {a.id} ({a.severity}, {a.state}): {a.title}")
    print(f"  {a.summary}")
    print(f"  first {when(a.first_at)}, last {when(a.last_at)}, {a.count} window(s)")
    if a.acked_by:
        print(f"  acknowledged by {a.acked_by} at {when(a.acked_at)}")
    if a.resolved_at:
        print(f"  resolved at {when(a.resolved_at)}")
    table(["CHANNEL", "STATE", "ATTEMPTS", "SENT", "LAST"], [(n.channel, n.state, n.attempts, when(n.sent_at),
          n.last_error[:80]) for n in sent], empty="no channels were told (kiln alert channel add)")  # fmt: skip
    return 0


def alert_ack(args: argparse.Namespace) -> int:
    with connect() as client:
        a = client.acknowledge_alert(args.id)
    if args.json:
        emit_json(alert_dict(a))
    else:
        print(f"alert {a.id} acknowledged by {a.acked_by}")
    return 0


def dead_letters(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_notifications(project_of(args), state="dead")
    if args.json:
        emit_json([dataclasses.asdict(n) for n in found])
        return 0
    table(["ID", "ALERT", "CHANNEL", "ATTEMPTS", "SINCE", "LAST ERROR"],
          [(n.id, n.alert, n.channel, n.attempts, when(n.created_at), n.last_error[:100]) for n in found],
          empty="no undelivered notifications")  # fmt: skip
    return 0


def alert_dict(a: Any) -> dict[str, object]:
    data = dataclasses.asdict(a)
    data["details"] = json.loads(data.pop("details_json") or "{}")
    for key in ("first_at", "last_at", "acked_at", "resolved_at"):
        data[key] = when(data[key])
    return data


# -- channels -------------------------------------------------------------------------------------------------


def channel_add(args: argparse.Namespace) -> int:
    options = {key: value for key, value in (
        ("url", args.url), ("min_severity", args.min_severity), ("smtp_host", args.smtp_host),
        ("smtp_port", args.smtp_port), ("smtp_tls", args.smtp_tls), ("smtp_user", args.smtp_user),
        ("sender", args.sender), ("to", args.to),
    ) if value is not None}  # fmt: skip
    if args.header:
        options["header"] = "\n".join(args.header)
    if args.smtp_password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise InvalidArgument("--smtp-password-stdin: stdin held no password")
        options["smtp_password"] = password
    with connect() as client:
        c = client.add_channel(project_of(args), args.name, args.kind, options)
    if args.json:
        emit_json(channel_dict(c))
    else:
        print(f"channel {c.name} ({c.kind}) added; try it: kiln alert channel test {c.name} -p {c.project}")
    return 0


def channel_list(args: argparse.Namespace) -> int:
    with connect() as client:
        found = client.list_channels(project_of(args))
    if args.json:
        emit_json([channel_dict(c) for c in found])
        return 0
    table(["NAME", "KIND", "MIN SEVERITY", "TO"],
          [(c.name, c.kind, json.loads(c.channel_json).get("min_severity", ""), _target(c)) for c in found],
          empty="no channels (kiln alert channel add NAME --kind webhook --url URL)")  # fmt: skip
    return 0


def _target(c: Any) -> str:
    data = json.loads(c.channel_json)
    return str(data.get("url") or ", ".join(data.get("recipients") or []))


def channel_test(args: argparse.Namespace) -> int:
    with connect() as client:
        receipt = client.test_channel(project_of(args), args.name)
    if args.json:
        emit_json({"channel": args.name, "receipt": receipt})
    else:
        print(f"channel {args.name}: {receipt}")
    return 0


def channel_remove(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        client.remove_channel(project, args.name)
    if args.json:
        emit_json({"project": project, "name": args.name, "removed": True})
    else:
        print(f"channel {args.name} removed")
    return 0


def channel_dict(c: Any) -> dict[str, object]:
    data = dataclasses.asdict(c)
    data["settings"] = json.loads(data.pop("channel_json"))
    data["created_at"] = when(data["created_at"])
    return data
