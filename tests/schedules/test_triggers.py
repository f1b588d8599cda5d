"""Schedules that fire on events, through the real coordinator and its own dispatcher tick: a new dataset
version, an approved model version, a monitor's alert, a run's metric crossing a threshold; a dry run says
what would fire and stores nothing; mistakes are refused with what to fix."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiln.client import Client
from kiln.coordinator.alerts import manage as alerts
from kiln.coordinator.server import RunningCoordinator
from kiln.coordinator.store.deployments import splits_json
from kiln.core.deployments import Split
from kiln.core.errors import InvalidArgument, NotFound
from kiln.core.runs import RunSpec, RunState
from kiln.sync.push import push
from tests.conftest import idle_node, wait_until

JOB = RunSpec("trig", ("python", "retrain.py"))


@pytest.fixture
def project(coordinator: RunningCoordinator, admin: Client) -> str:
    admin.create_project("trig")
    idle_node(coordinator)  # a node that could run the fires (none connects)
    return "trig"


def fired(admin: Client, name: str, count: int) -> list:  # type: ignore[type-arg]
    wait_until(lambda: len(admin.get_schedule("trig", name).fires) >= count, 20, f"{count} fire(s) of {name}")
    return list(reversed(admin.get_schedule("trig", name).fires))


def test_a_new_dataset_version_fires_once_each(admin: Client, project: str, tmp_path: Path) -> None:
    dry = admin.create_schedule(project, "fresh", JOB, on="dataset:events", dry_run=True)
    assert any("no such event has happened yet" in line for line in dry.would_fire)
    assert admin.list_schedules(project) == []  # a dry run stores nothing
    s = admin.create_schedule(project, "fresh", JOB, on="dataset:events", overlap="allow:5")
    assert s.trigger == "dataset:events" and s.description == "on dataset:events" and s.next_fires == ()
    data = tmp_path / "d"
    data.mkdir()
    for i in (1, 2):
        (data / "rows.csv").write_text(f"x\n{i}\n")
        admin.add_dataset_version(project, "events", push(admin, data, project, "", tmp_path / "cache").snapshot.id)
        fires = fired(admin, "fresh", i)
        assert len(fires) == i and fires[-1].outcome == "fired" and f"dataset events v{i}" in fires[-1].reason
        run = admin.get_run(fires[-1].run_id)
        assert (
            run.spec.env["KILN_TRIGGER_DATASET"] == f"events:{i}" and run.spec.env["KILN_TRIGGER"] == "dataset:events"
        )
    again = admin.create_schedule(project, "late", JOB, on="dataset:events", dry_run=True)
    assert any("dataset events v2" in line for line in again.would_fire)


def test_an_approved_model_version_and_a_metric_crossing_fire(
    coordinator: RunningCoordinator, admin: Client, project: str
) -> None:
    store = coordinator.ctx.store
    run = admin.submit_run(RunSpec(project, ("true",)))
    assert store.add_model_version(project, "clf", run.id, "m", "", "admin", time.time(), {}, {}) == 1
    admin.create_schedule(project, "on-approval", JOB, on="model-approved:clf")
    admin.create_schedule(project, "on-metric", JOB, on="metric:accuracy<0.8", overlap="allow:5")
    store.move_alias(project, "clf", "staging", 1, time.time(), "bob")  # a move without approval: nothing fires
    store.move_alias(project, "clf", "production", 1, time.time(), "carol", request_id="q-1")
    (fire,) = fired(admin, "on-approval", 1)
    assert "model clf v1 approved as production" in fire.reason
    assert admin.get_run(fire.run_id).spec.env["KILN_TRIGGER_MODEL"] == "model:trig/clf@1"

    for value in (0.9, 0.7):  # two runs end; only the one under the threshold fires
        ended = admin.submit_run(RunSpec(project, ("true",)))
        store.add_metrics(ended.id, [("accuracy", 0, value, time.time())])
        store.update_run(ended.id, state=str(RunState.SUCCEEDED), finished_at=time.time())
    (fire,) = fired(admin, "on-metric", 1)
    assert "ended with accuracy 0.7" in fire.reason


def test_an_alert_fires_a_retraining_run(coordinator: RunningCoordinator, admin: Client, project: str) -> None:
    """The recipe's first half: drift on an endpoint -> its monitor's alert -> a retraining run (the second,
    promotion to production, goes through the model's approvals: tests/records)."""
    store = coordinator.ctx.store
    store.add_deployment(
        {"name": "churn", "project": project, "model": "clf", "replicas": 1, "state": "active",
         "traffic_json": splits_json([Split(1, 100)]), "created_by": "admin", "created_at": time.time()}
    )  # fmt: skip
    admin.create_monitor(project, "churn-watch", "churn")
    admin.create_schedule(project, "retrain", JOB, on="alert:churn-watch")
    monitor = store.monitor(project, "churn-watch")
    assert monitor is not None
    alert, _ = alerts.fire(coordinator.ctx, monitor, "drift", "warning", "Data drift on endpoint churn", "x", {},
                           time.time())  # fmt: skip
    (fire,) = fired(admin, "retrain", 1)
    assert fire.outcome == "fired" and alert["id"] in fire.reason
    assert admin.get_run(fire.run_id).spec.env["KILN_TRIGGER_ALERT"] == alert["id"]


def test_trigger_mistakes_are_refused(admin: Client, project: str) -> None:
    with pytest.raises(InvalidArgument, match="dataset:NAME"):
        admin.create_schedule(project, "x", JOB, on="webhook:foo")
    with pytest.raises(InvalidArgument, match="metric:KEY<OP>VALUE"):
        admin.create_schedule(project, "x", JOB, on="metric:accuracy")
    with pytest.raises(InvalidArgument, match="one of --cron, --every and --on"):
        admin.create_schedule(project, "x", JOB, on="dataset:events", every="1h")
    with pytest.raises(NotFound, match="monitor"):
        admin.create_schedule(project, "x", JOB, on="alert:nobody")
    with pytest.raises(NotFound, match="model"):
        admin.create_schedule(project, "x", JOB, on="model-approved:nothing")
    assert admin.list_schedules(project) == []
