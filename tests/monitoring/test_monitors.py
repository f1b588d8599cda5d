"""Monitors through the real coordinator: a reference frozen from a real dataset version, ledger records as
the gateway ships them, a shifted stream that raises a drift alert and an unshifted one that does not, the
alert told to a real HTTP receiver that fails its first tries, acknowledged, and resolved; results as
lineage entities; bad input refused with what to fix."""

from __future__ import annotations

import json
import time

import pytest

from kiln.client import Client
from kiln.coordinator.alerts import outbox
from kiln.coordinator.deployments import ledger
from kiln.coordinator.monitoring import evaluate
from kiln.coordinator.server import RunningCoordinator
from kiln.core.deployments import PredictionRecord
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from tests.conftest import idle_node
from tests.monitoring.conftest import COLUMNS, Receiver, feed


def test_a_shifted_stream_raises_a_drift_alert_and_an_unshifted_one_does_not(
    coordinator: RunningCoordinator, admin: Client, watched: str, receiver: Receiver
) -> None:
    admin.add_channel("mon", "ops", "webhook", {"url": receiver.url, "min_severity": "warning"})
    for name in ("calm", "shifted"):
        m = admin.create_monitor("mon", f"{name}-watch", name, reference="ref:1", target="y", window="1h")
        assert m.config["reference_sources"] == {"1": "dataset:mon/ref@1"}
    now = time.time()
    feed(coordinator, "calm", 0.0, 400, now, seed=2)
    feed(coordinator, "shifted", 1.0, 400, now, seed=3)

    calm = admin.run_monitor("mon", "calm-watch")
    assert calm.requests == 400 and not calm.drifted and calm.health is not None and calm.health > 70
    assert calm.drift_share is not None and calm.drift_share < 0.5  # a column may stray; the verdict is the share
    shifted = admin.run_monitor("mon", "shifted-watch")
    assert shifted.drifted and shifted.drift_share == 1.0
    assert {c["column"] for c in shifted.result["drift"]["columns"]} == set(COLUMNS)  # y, the target, is left out

    firing = admin.list_alerts("mon", state="firing")
    assert [(a.rule, a.title) for a in firing] == [("drift", "Data drift on endpoint shifted")]
    # the receiver fails twice: the outbox retries with backoff until it is told, once
    t = time.time()
    for step in range(6):
        outbox.deliver_due(coordinator.ctx, t + step * 700)
    told = [b for b, code in zip(receiver.bodies, receiver.answers, strict=True) if code == 200]
    assert len(told) == 1 and told[0]["alert_id"] == firing[0].id and told[0]["state"] == "firing"
    assert receiver.answers[:2] == [503, 503]
    (sent,) = admin.list_notifications("mon", alert=firing[0].id)
    assert sent.state == "sent" and sent.attempts == 3

    # the same breach again only counts (the coordinator's own watch may have judged a window too); the
    # alert is not told twice
    before = admin.get_alert(firing[0].id).count
    admin.run_monitor("mon", "shifted-watch")
    again = admin.get_alert(firing[0].id)
    assert again.count >= before + 1 and again.state == "firing"
    assert len(admin.list_notifications("mon", alert=firing[0].id)) == 1

    acked = admin.acknowledge_alert(firing[0].id)
    assert acked.state == "acknowledged" and acked.acked_by == "admin"
    with pytest.raises(FailedPrecondition, match="only a firing alert"):
        admin.acknowledge_alert(firing[0].id)
    actions = [r.action for r in admin.list_audit() if r.target == firing[0].id]
    assert actions == ["alert.fire", "alert.acknowledge"]


def test_an_alert_resolves_when_a_later_window_no_longer_breaches(
    coordinator: RunningCoordinator, admin: Client, watched: str, receiver: Receiver
) -> None:
    admin.add_channel("mon", "ops", "webhook", {"url": receiver.url})
    admin.create_monitor("mon", "w", "shifted", reference="ref:1", target="y", window="10m")
    ctx = coordinator.ctx
    row = ctx.store.monitor("mon", "w")
    later = time.time() + 100_000  # a clock of the test's own, far from the coordinator's loop
    feed(coordinator, "shifted", 1.5, 300, later, seed=4)
    first = evaluate.evaluate(ctx, ctx.store.monitor("mon", "w") or row, later)
    assert first["drifted"]
    (alert,) = admin.list_alerts("mon")
    feed(coordinator, "shifted", 0.0, 300, later + 3600, seed=5)
    second = evaluate.evaluate(ctx, ctx.store.monitor("mon", "w") or row, later + 3600)
    assert not second["drifted"]
    resolved = admin.get_alert(alert.id)
    assert resolved.state == "resolved" and resolved.resolved_at == later + 3600
    for step in range(6):
        outbox.deliver_due(ctx, later + 3600 + step * 700)
    told = [
        (b["state"], b["alert_id"]) for b, code in zip(receiver.bodies, receiver.answers, strict=True) if code == 200
    ]
    assert told == [("firing", alert.id), ("resolved", alert.id)]
    # each window is a lineage entity: fed by the model version it judged and the reference's dataset
    up = admin.lineage(f"monitor:mon/w@{second['seq']}", "up")
    assert {"dataset:mon/ref@1", "deployment:shifted"} <= {n.id for n in up.nodes}
    down = admin.lineage("deployment:shifted", "down")  # the endpoint leads to every window judged of it
    assert {f"monitor:mon/w@{first['seq']}", f"monitor:mon/w@{second['seq']}"} <= {n.id for n in down.nodes}


def test_monitor_mistakes_are_refused_with_what_to_fix(admin: Client, watched: str, make_user) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="endpoint"):
        admin.create_monitor("mon", "w", "nothing-here")
    with pytest.raises(InvalidArgument, match="METRIC OP VALUE"):
        admin.create_monitor("mon", "w", "calm", kpis=["error_rate >> 3"])
    with pytest.raises(InvalidArgument, match="statistic"):
        admin.create_monitor("mon", "w", "calm", statistic="vibes")
    with pytest.raises(InvalidArgument, match="window"):
        admin.create_monitor("mon", "w", "calm", window="10s")
    with pytest.raises(NotFound, match="dataset"):
        admin.create_monitor("mon", "w", "calm", reference="nope:1")
    with pytest.raises(InvalidArgument, match="features"):
        admin.create_monitor("mon", "w", "calm", features=[f"f{i}" for i in range(1001)])
    with pytest.raises(InvalidArgument, match="SLO"):
        admin.create_monitor("mon", "w", "calm", latency_slo_ms=float("nan"))
    with pytest.raises(InvalidArgument, match="health-below"):
        admin.create_monitor("mon", "w", "calm", health_below=101)
    with pytest.raises(InvalidArgument, match="one thing"):
        admin.create_monitor("mon", "w", "calm", scoring="scores")
    with pytest.raises(InvalidArgument, match="severity"):
        admin.create_monitor("mon", "w", "calm", severity="apocalyptic")
    with pytest.raises(InvalidArgument, match="state"):
        admin.list_alerts("mon", state="on fire")
    with pytest.raises(NotFound, match="alert"):
        admin.acknowledge_alert("a-" + "0" * 12)
    assert admin.list_monitors("mon") == []
    viewer = make_user("vic", "mon", "viewer")
    with pytest.raises(PermissionDenied):
        viewer.create_monitor("mon", "w", "calm")


def test_channels_bad_input_test_and_dead_letters(coordinator: RunningCoordinator, admin: Client, watched: str) -> None:
    with pytest.raises(InvalidArgument):
        admin.add_channel("mon", "bad", "webhook", {"url": "ftp://example.com/x"})
    with pytest.raises(InvalidArgument):
        admin.add_channel("mon", "bad", "pager", {"url": "https://example.com"})
    with pytest.raises(InvalidArgument):
        admin.add_channel("mon", "bad", "email", {"smtp_host": "smtp.example.com", "smtp_tls": "none",
                                                  "sender": "k@example.com", "to": "a@example.com"})  # fmt: skip
    assert admin.list_channels("mon") == []
    gone = Receiver(status=404)
    try:
        admin.add_channel("mon", "wrong", "webhook", {"url": gone.url})
        with pytest.raises(FailedPrecondition, match="404"):
            admin.test_channel("mon", "wrong")
        admin.create_monitor("mon", "errors", "calm", kpis=["error_rate > 0.5"], window="1h")
        t = time.time() + 200_000
        ledger.record(coordinator.ctx, [
            PredictionRecord(id=f"e{i}", endpoint="calm", version=1, time=t - i, latency_ms=1.0, status=502,
                             content_type="application/json", request=b"{}", response=b"{}") for i in range(10)
        ])  # fmt: skip
        evaluate.evaluate(coordinator.ctx, coordinator.ctx.store.monitor("mon", "errors") or {}, t)
        outbox.deliver_due(coordinator.ctx, t)
        dead = admin.list_notifications("mon", state="dead")  # the KPI's alert and the health alert, both told
        rules = {admin.get_alert(d.alert).rule for d in dead}
        assert rules == {"kpi:error_rate > 0.5", "health"}
        assert all(d.attempts == 1 and "404" in d.last_error for d in dead)  # a 404 is not retried
    finally:
        gone.close()
    closed = Receiver()
    url = closed.url
    closed.close()
    admin.add_channel("mon", "closed", "webhook", {"url": url})
    with pytest.raises(FailedPrecondition, match="closed"):
        admin.test_channel("mon", "closed")


def test_the_command_line(signed_in_cli, coordinator: RunningCoordinator, watched: str, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    cli = signed_in_cli
    made = json.loads(cli.ok("monitor", "create", "w", "-p", "mon", "--deployment", "shifted", "--reference", "ref:1",
                             "--target", "y", "--kpi", "error_rate > 0.5", "--json"))  # fmt: skip
    assert made["config"]["reference_sources"] == {"1": "dataset:mon/ref@1"}
    assert [m["name"] for m in json.loads(cli.ok("monitor", "list", "-p", "mon", "--json"))] == ["w"]
    feed(coordinator, "shifted", 1.0, 200, time.time(), seed=9)
    judged = json.loads(cli.ok("monitor", "run", "w", "-p", "mon", "--json"))
    assert judged["drifted"] and judged["result"]["drift"]["share_drifted"] == 1.0
    shown = cli.ok("monitor", "show", "w", "-p", "mon")
    assert "drift per feature" in shown and "x3" in shown
    (alert,) = json.loads(cli.ok("alerts", "-p", "mon", "--state", "firing", "--json"))
    assert alert["rule"] == "drift"
    assert json.loads(cli.ok("alert", "ack", alert["id"], "--json"))["state"] == "acknowledged"
    cli.ok("alert", "channel", "add", "hook", "-p", "mon", "--kind", "webhook", "--url", receiver.url)
    listed = json.loads(cli.ok("alert", "channel", "list", "-p", "mon", "--json"))
    assert [c["name"] for c in listed] == ["hook"]
    failed = cli("alert", "channel", "test", "hook", "-p", "mon")  # the receiver fails its first two tries
    assert failed.code != 0 and "503" in failed.err and "Traceback" not in failed.err
    assert json.loads(cli.ok("alert", "dead-letters", "-p", "mon", "--json")) == []
    bad = cli("monitor", "create", "x", "-p", "mon", "--deployment", "shifted", "--kpi", "nonsense")
    assert bad.code != 0 and "METRIC OP VALUE" in bad.err


def test_a_kpi_on_a_tracked_metric(coordinator: RunningCoordinator, admin: Client, watched: str) -> None:
    """metric:KEY is the last value of KEY of the project's latest run that ended in the window."""
    from kiln.core.runs import RunSpec

    ctx = coordinator.ctx
    idle_node(coordinator)  # a node that could run them (the runs are ended by hand)
    admin.create_monitor("mon", "evals", "calm", kpis=["metric:nightly_auc < 0.7"], window="1h")
    t = time.time() + 300_000
    for value, at in ((0.9, t - 1200), (0.6, t - 600)):  # the later run's value is the one judged
        run = admin.submit_run(RunSpec("mon", ("true",)))
        ctx.store.add_metrics(run.id, [("nightly_auc", 0, value, at)])
        ctx.store.update_run(run.id, state="succeeded", finished_at=at)
    result = evaluate.evaluate(ctx, ctx.store.monitor("mon", "evals") or {}, t)
    (kpi,) = json.loads(result["result_json"])["kpis"]
    assert kpi == {"kpi": "metric:nightly_auc < 0.7", "value": 0.6, "breached": True}
    assert [a.rule for a in admin.list_alerts("mon")] == ["kpi:metric:nightly_auc < 0.7"]
    with pytest.raises(InvalidArgument, match="metric:KEY"):
        admin.create_monitor("mon", "bad", "calm", kpis=["metric: < 3"])
