"""Over 10,000 fires of a real schedule in a real SQLite store, on a clock in the test's hands, through both
DST changes of a year in Europe/Berlin, with coordinator restarts (the store closed and opened again, the
coordinator's objects made anew), downtime, and crashes in the middle of a claim: every nominal time is
claimed exactly once, except those missed in downtime, of which catch-up "latest" claims the latest once."""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from kiln.coordinator import projects
from kiln.coordinator.blobs import BlobStore
from kiln.coordinator.context import Coordinator, CoordinatorConfig
from kiln.coordinator.liveness import Liveness
from kiln.coordinator.pki import ServerTls
from kiln.coordinator.runs import transition
from kiln.coordinator.schedules import firing, manage, timing
from kiln.coordinator.store import SqliteStore
from kiln.core.models import Inventory
from kiln.core.permissions import Principal
from kiln.core.runs import RunSpec, RunState

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 20, tzinfo=BERLIN).timestamp()  # before the spring change (29 March)
END = datetime(2026, 11, 30, tzinfo=BERLIN).timestamp()  # after the autumn change (25 October)
ADMIN = Principal("admin", True)


class Crash(Exception):
    """The coordinator dying in the middle of a claim (before its commit)."""


class Coordinators:
    """A coordinator's state on disk, opened anew on each restart."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ctx = self._open()
        self.ctx.store.add_user("admin", "x", True)
        projects.create_project(self.ctx.store, ADMIN, "p", "")
        self.ctx.store.add_node("n1", "fp", {}, START)
        inventory = Inventory(cpus=64, memory_bytes=64 << 30)
        self.ctx.store.update_node("n1", START, runtimes={"process": "here"}, inventory=inventory)

    def _open(self) -> Coordinator:
        config = CoordinatorConfig(self.tmp)
        store = SqliteStore(self.tmp / "kiln.db")
        liveness = Liveness(15.0, 120.0, started_at=START)
        return Coordinator(config, store, BlobStore(self.tmp / "blobs"), cast(ServerTls, None), liveness)

    def restart(self) -> None:
        self.ctx.store.close()
        self.ctx = self._open()


def test_ten_thousand_fires_across_restarts_downtime_crashes_and_dst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    c = Coordinators(tmp_path)
    monkeypatch.setattr("kiln.core.clock.now", lambda: START)
    new = manage.NewSchedule("p", "halfhourly", RunSpec("p", ("true",)), cron="*/30 * * * *", tz="Europe/Berlin",
                             overlap="allow:3", catch_up="latest")  # fmt: skip
    sid = manage.create(c.ctx, ADMIN, new).id
    when = manage.timing_of(c.ctx.store.schedule_by_id(sid) or {})
    nominals = timing.fires_between(when, START, END, 20_000)
    assert len(nominals) > 10_000

    expected: set[float] = set()  # what the claims must come to, by the rule of timing.due
    last, now, i = START, START, 0
    ticks = crashes = restarts = downtimes = 0
    while i < len(nominals):
        n = nominals[i]
        if rng.random() < 0.004:  # downtime: no tick for hours
            now = n + rng.uniform(2, 30) * 3600
            downtimes += 1
        else:
            now = max(now, n + rng.uniform(0, timing.GRACE_S))
        if rng.random() < 0.01:
            restarts += 1
            c.restart()
        if rng.random() < 0.01:  # a crash before the commit: nothing of the claim may stay
            crashes += 1
            before = c.ctx.store.fire_count(sid)
            with monkeypatch.context() as m:
                m.setattr(c.ctx.store, "update_schedule", _crash)
                with pytest.raises(Crash):
                    firing._fire(c.ctx, sid, now)
            assert c.ctx.store.fire_count(sid) == before
            c.restart()
        firing.fire_due(c.ctx, now)
        ticks += 1
        late = now - timing.GRACE_S
        on_time = nominals[bisect_right(nominals, max(last, late)) : bisect_right(nominals, now)]
        if on_time:
            expected.update(on_time)
            last = on_time[-1]
        else:
            missed = nominals[bisect_right(nominals, last) : bisect_right(nominals, late)]
            if missed:
                expected.add(missed[-1])
        settled = bisect_right(nominals, late)
        last = max(last, nominals[settled - 1] if settled else last)
        i = bisect_right(nominals, now)
        if rng.random() < 0.5:  # the runs end now and then, so fires both start runs and are skipped
            _end_runs(c.ctx)

    fires = c.ctx.store.fires(sid)
    claimed = [f["nominal"] for f in fires]
    assert len(claimed) == len(set(claimed)), "a nominal time was claimed twice"
    assert set(claimed) == expected
    assert len(expected) > 10_000 and downtimes and restarts and crashes
    outcomes = {f["outcome"] for f in fires}
    assert {"fired", "skipped"} <= outcomes
    fired = [f for f in fires if f["outcome"] == "fired"]
    assert all(c.ctx.store.run(f["run_id"], with_events=False) for f in fired[:200])
    # both DST changes happened inside the period, at the local half-hours the expression names
    local = {datetime.fromtimestamp(t, BERLIN).strftime("%m-%d %H:%M") for t in claimed}
    assert "03-29 03:00" in local and "03-29 02:30" not in local  # 02:00-03:00 does not exist that day
    assert "10-25 02:30" in local  # the repeated hour: 02:30 fires once (its first occurrence)


def _crash(*args: object, **kwargs: object) -> None:
    raise Crash()


def _end_runs(ctx: Coordinator) -> None:
    for run in ctx.store.runs(states=[RunState.QUEUED]):
        transition(ctx.store, run, RunState.CANCELLED, "ended by the test", START)
