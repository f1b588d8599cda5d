"""Schedules through the real coordinator: bad input refused with a message and nothing stored, listing and
the next fire times, fires as tagged runs with each overlap policy (on a clock in the test's hands), pause,
resume, delete and audit, and one fire on the real clock."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kiln.client import Client
from kiln.coordinator.schedules import firing
from kiln.coordinator.server import RunningCoordinator
from kiln.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kiln.core.runs import RunSpec, RunState
from kiln.core.schedules import NOMINAL_ENV, NOMINAL_TAG, SCHEDULE_ENV, SCHEDULE_TAG
from tests.conftest import idle_node, wait_until

HOUR = 3600.0


@pytest.fixture
def project(coordinator: RunningCoordinator, admin: Client) -> Iterator[str]:
    admin.create_project("sched")
    idle_node(coordinator)  # a node that could run the fires (none connects)
    yield "sched"


def job(project: str = "sched") -> RunSpec:
    return RunSpec(project, ("python", "-c", "print('hi')"))


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"cron": "0 6 * * 1-5"}, "needs --tz"),
        ({"cron": "0 6 * * 1-5", "tz": "Mars/Olympus"}, "Mars/Olympus"),
        ({"cron": "0 6 * * 1-5", "tz": "../../etc/passwd"}, "zone"),
        ({"cron": "61 6 * * *", "tz": "UTC"}, "61 6 * * *"),
        ({"cron": "0 6 * *", "tz": "UTC"}, "five fields"),
        ({"cron": "0 6 30 2 *", "tz": "UTC"}, "day-of-month"),
        ({"cron": "0 6 * * *", "tz": "UTC", "every": "1h"}, "exactly one"),
        ({}, "exactly one"),
        ({"every": "1x"}, "30m"),
        ({"every": "1s"}, "10s"),
        ({"every": "1h", "overlap": "sometimes"}, "skip, queue or allow:N"),
        ({"every": "1h", "overlap": "allow:0"}, "allow:N"),
        ({"every": "1h", "catch_up": "all"}, "catch-up"),
        ({"cron": "x" * 500, "tz": "UTC"}, "at most"),
    ],
)
def test_bad_timing_is_refused_with_what_to_fix_and_nothing_stored(
    admin: Client, project: str, kwargs: dict[str, str], says: str
) -> None:
    with pytest.raises(InvalidArgument, match=".*") as e:
        admin.create_schedule(project, "bad", job(), **kwargs)
    assert says.lower() in str(e.value).lower()
    assert admin.list_schedules(project) == []


def test_bad_templates_and_names_are_refused(admin: Client, project: str) -> None:
    with pytest.raises(InvalidArgument, match="needs what to run"):
        admin.create_schedule(project, "empty", None, every="1h")
    with pytest.raises(InvalidArgument, match="project"):
        admin.create_schedule(project, "elsewhere", job("other"), every="1h")
    with pytest.raises(InvalidArgument):
        admin.create_schedule(project, "bad name!", job(), every="1h")
    with pytest.raises(NotFound):
        admin.create_schedule(project, "ghost", None, every="1h", rerun_of="r-0123456789ab")
    admin.create_schedule(project, "once", job(), every="1h")
    with pytest.raises(AlreadyExists):
        admin.create_schedule(project, "once", job(), every="1h")
    assert [s.name for s in admin.list_schedules(project)] == ["once"]


def test_a_viewer_may_read_but_not_create(admin: Client, project: str, make_user) -> None:  # type: ignore[no-untyped-def]
    admin.create_schedule(project, "hourly", job(), every="1h")
    viewer = make_user("vera", project, "viewer")
    assert viewer.get_schedule(project, "hourly").name == "hourly"
    with pytest.raises(PermissionDenied):
        viewer.create_schedule(project, "mine", job(), every="1h")
    with pytest.raises(PermissionDenied):
        viewer.pause_schedule(project, "hourly")


def test_cron_in_a_zone_lists_its_next_five_times(admin: Client, project: str) -> None:
    s = admin.create_schedule(project, "weekdays", job(), cron="0 6 * * 1-5", tz="Europe/Berlin")
    assert s.state == "active" and "Europe/Berlin" in s.description
    assert len(s.next_fires) == 5 and list(s.next_fires) == sorted(s.next_fires)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    for t in s.next_fires:
        local = datetime.fromtimestamp(t, ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute, local.second) == (6, 0, 0) and local.weekday() < 5
    listed = admin.list_schedules(project)
    assert [x.id for x in listed] == [s.id] and listed[0].next_fires == s.next_fires


def test_fires_are_tagged_runs_and_overlap_skip_holds_one_at_a_time(
    coordinator: RunningCoordinator, admin: Client, project: str
) -> None:
    s = admin.create_schedule(project, "hourly", job(), every="1h")
    ctx = coordinator.ctx
    first = s.next_fires[0]
    assert first == s.anchor + HOUR
    assert firing.fire_due(ctx, first - 1) == 0  # not yet
    assert firing.fire_due(ctx, first) == 1
    shown = admin.get_schedule(project, "hourly")
    (fire,) = shown.fires
    assert (fire.nominal, fire.outcome) == (first, "fired")
    run = admin.get_run(fire.run_id)
    assert run.spec.command == job().command and run.user == "admin"
    assert run.spec.env[SCHEDULE_ENV] == f"{project}/hourly" and run.spec.env[NOMINAL_ENV].endswith("Z")
    tags = ctx.store.tags(run.id)
    assert tags[SCHEDULE_TAG] == s.id and tags[NOMINAL_TAG] == run.spec.env[NOMINAL_ENV]
    # the first run is still queued (no agent takes it): the next fire is skipped, and says why
    assert firing.fire_due(ctx, first + HOUR) == 0
    skipped = admin.get_schedule(project, "hourly").fires[0]
    assert skipped.outcome == "skipped" and "still active" in skipped.reason
    admin.cancel_run(run.id)
    assert firing.fire_due(ctx, first + 2 * HOUR) == 1
    assert [f.outcome for f in admin.get_schedule(project, "hourly").fires] == ["fired", "skipped", "fired"]


def test_overlap_allow_and_queue(coordinator: RunningCoordinator, admin: Client, project: str) -> None:
    ctx = coordinator.ctx
    two = admin.create_schedule(project, "two", job(), every="1h", overlap="allow:2")
    t = two.next_fires[0]
    for k in range(3):
        firing.fire_due(ctx, t + k * HOUR)
    assert [f.outcome for f in reversed(admin.get_schedule(project, "two").fires)] == ["fired", "fired", "skipped"]

    q = admin.create_schedule(project, "queued", job(), every="1h", overlap="queue")
    t = q.next_fires[0]
    firing.fire_due(ctx, t)
    firing.fire_due(ctx, t + HOUR)
    firing.fire_due(ctx, t + 2 * HOUR)
    fires = admin.get_schedule(project, "queued").fires
    assert [f.outcome for f in reversed(fires)] == ["fired", "waiting", "skipped"]
    running = fires[-1].run_id
    firing.fire_due(ctx, t + 2 * HOUR + 1)
    assert admin.get_schedule(project, "queued").fires[1].outcome == "waiting"  # still held: the first is active
    admin.cancel_run(running)
    firing.fire_due(ctx, t + 2 * HOUR + 2)  # released once the first ended (here, or by the coordinator's tick)
    released = admin.get_schedule(project, "queued").fires[1]
    assert released.outcome == "fired" and released.run_id and released.nominal == t + HOUR


def test_a_fire_refused_as_a_submission_is_recorded_failed(
    coordinator: RunningCoordinator, admin: Client, project: str
) -> None:
    s = admin.create_schedule(project, "big", RunSpec(project, ("true",), resources=_huge()), every="1h")
    assert firing.fire_due(coordinator.ctx, s.next_fires[0]) == 0
    (fire,) = admin.get_schedule(project, "big").fires
    assert fire.outcome == "failed" and "no node can ever run it" in fire.reason and not fire.run_id


def _huge():  # type: ignore[no-untyped-def]
    from kiln.core.runs import Resources

    return Resources(cpus=64)


def test_pause_resume_and_delete_are_audited_and_paused_times_never_fire(
    coordinator: RunningCoordinator, admin: Client, project: str
) -> None:
    ctx = coordinator.ctx
    s = admin.create_schedule(project, "hourly", job(), every="1h")
    paused = admin.pause_schedule(project, "hourly")
    assert paused.state == "paused" and paused.next_fires == ()
    with pytest.raises(FailedPrecondition, match="already paused"):
        admin.pause_schedule(project, "hourly")
    assert firing.fire_due(ctx, s.next_fires[0]) == 0
    resumed = admin.resume_schedule(project, "hourly")
    assert resumed.state == "active" and resumed.next_fires[0] > time.time()
    admin.delete_schedule(project, "hourly")
    with pytest.raises(NotFound):
        admin.get_schedule(project, "hourly")
    actions = [r.action for r in admin.list_audit() if r.target == s.id]
    assert actions == ["schedule.create", "schedule.pause", "schedule.resume", "schedule.delete"]


def test_a_fire_on_the_real_clock(coordinator: RunningCoordinator, admin: Client, project: str) -> None:
    s = admin.create_schedule(project, "soon", job(), every="10s")
    wait_until(lambda: admin.get_schedule(project, "soon").fires, 30, "the first fire on the real clock")
    fire = admin.get_schedule(project, "soon").fires[-1]
    assert fire.nominal == s.next_fires[0] and fire.outcome == "fired"
    assert admin.get_run(fire.run_id).state in (RunState.QUEUED, RunState.CANCELLED)
