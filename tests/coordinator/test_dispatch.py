"""The dispatcher's decisions, on a fake clock and a real store, without a server: placement, fencing,
reconciliation after a reconnect, unreachable -> lost -> retried, and poison reports set aside."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import cast

import pytest

from kiln.coordinator import projects, runs
from kiln.coordinator.blobs import BlobStore
from kiln.coordinator.context import Coordinator, CoordinatorConfig
from kiln.coordinator.dispatch import (
    MAX_FAILURES,
    Changed,
    Close,
    Command,
    Connected,
    Disconnected,
    Dispatcher,
    Received,
    Send,
    Tick,
    Unreadable,
    Wake,
)
from kiln.coordinator.liveness import Liveness
from kiln.coordinator.pki import ServerTls
from kiln.coordinator.store import SqliteStore
from kiln.core.link import Ack, Assignment, Cancel, HeldRun, Hello, LogBatch, RunUpdate, Sequenced, Welcome
from kiln.core.models import Inventory
from kiln.core.permissions import Principal
from kiln.core.runs import LogChunk, RunSpec, RunState

T0 = 1_000_000.0
TIMEOUT, GRACE = 15.0, 120.0
ADMIN = Principal("admin", True, "t-1")
INVENTORY = Inventory(cpus=4, memory_bytes=8 << 30)


class Cluster:
    """A dispatcher over a real store, with the clock in the test's hands."""

    def __init__(self, tmp: Path) -> None:
        config = CoordinatorConfig(tmp, heartbeat_timeout_s=TIMEOUT, lost_grace_s=GRACE, cancel_grace_s=7.0)
        self.store = SqliteStore(tmp / "kiln.db")
        liveness = Liveness(TIMEOUT, GRACE, started_at=T0)
        self.ctx = Coordinator(config, self.store, BlobStore(tmp / "blobs"), cast(ServerTls, None), liveness)
        self.dispatcher = Dispatcher(self.ctx)
        self.now = T0
        self.sessions = 0
        self.store.add_user("admin", "x", True)
        projects.create_project(self.store, ADMIN, "p", "")

    def handle(self, event: object) -> list[Command]:
        return self.dispatcher.handle(event, self.now)  # type: ignore[arg-type]

    def link(self, event: object) -> list[Command]:
        """What the link would do: handle the event, and tick when asked to (a Wake)."""
        out = self.handle(event)
        if Wake() in out:
            out = [c for c in out if c != Wake()] + self.handle(Tick())
        return out

    def enroll(self, name: str) -> None:
        self.store.add_node(name, "fp", {}, self.now)
        self.store.update_node(name, self.now, runtimes={"process": "here"}, inventory=INVENTORY)

    def connect(
        self, name: str, held: tuple[HeldRun, ...] = (), instance: str | None = None, address: str = "10.0.0.1"
    ) -> tuple[int, list[Command]]:
        """A connection of node `name`'s agent (the same agent process each time, unless `instance`)."""
        self.sessions += 1
        hello = Hello(
            name=name,
            version="t",
            runtimes={"process": "here"},
            inventory=INVENTORY,
            runs=held,
            instance=f"agent-{name}" if instance is None else instance,
        )
        return self.sessions, self.link(Connected(name, self.sessions, hello, address))

    def submit(self, retries: int = 0) -> str:
        return runs.submit(self.ctx, ADMIN, RunSpec("p", ("echo", "hi"), retries=retries)).id

    def report(self, node: str, session: int, seq: int, message: object) -> list[Command]:
        return self.link(Received(node, session, Sequenced(seq, message)))  # type: ignore[arg-type]

    def state(self, run_id: str) -> RunState:
        run = self.store.run(run_id)
        assert run is not None
        return run.state


@pytest.fixture
def c(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path)


def sent(commands: list[Command], kind: type) -> list[object]:
    return [x.message for x in commands if isinstance(x, Send) and isinstance(x.message, kind)]


def update(run_id: str, state: RunState, attempt: int = 1, **fields: object) -> RunUpdate:
    return RunUpdate(run_id=run_id, attempt=attempt, state=state, time=T0, **fields)  # type: ignore[arg-type]


def test_a_connected_agent_is_welcomed_and_given_the_queued_run(c):
    c.enroll("a")
    run_id = c.submit()
    assert Wake() in c.handle(Connected("a", 99, Hello(name="a", version="t", instance="agent-a")))  # place soon
    session, out = c.connect("a")
    assert sent(out, Welcome) == [Welcome("a", 5.0, drained=False)]
    [assignment] = sent(out, Assignment)
    assert assignment.run_id == run_id and assignment.attempt == 1 and assignment.runtime == "process"
    assert c.state(run_id) is RunState.ASSIGNED


def test_a_report_is_applied_then_acknowledged(c):
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    out = c.report("a", session, 7, update(run_id, RunState.RUNNING))
    assert out == [Changed(), Send(session, Ack(7))]
    assert c.state(run_id) is RunState.RUNNING


def test_a_stale_attempt_is_told_to_stop_and_changes_nothing(c):
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    out = c.report("a", session, 1, update(run_id, RunState.RUNNING, attempt=2))
    assert sent(out, Cancel) == [Cancel(run_id, 2, 7.0, "this attempt is no longer current")]
    assert sent(out, Ack) == [Ack(1)]
    assert c.state(run_id) is RunState.ASSIGNED
    # a stale attempt that already ended needs no cancel, and is only acknowledged
    assert c.report("a", session, 2, update(run_id, RunState.FAILED, attempt=2)) == [Send(session, Ack(2))]


def test_a_report_from_another_node_is_fenced(c):
    c.enroll("a")
    c.enroll("b")
    run_id = c.submit()
    a, _ = c.connect("a")
    b, _ = c.connect("b")
    owner = cast(str, c.store.run(run_id).node)  # type: ignore[union-attr]
    other, session = ("b", b) if owner == "a" else ("a", a)
    out = c.report(other, session, 1, update(run_id, RunState.SUCCEEDED, exit_code=0))
    assert out == [Send(session, Ack(1))] and c.state(run_id) is RunState.ASSIGNED


def test_after_a_reconnect_an_assignment_never_received_is_sent_again(c):
    c.enroll("a")
    run_id = c.submit()
    c.connect("a")  # assigned, but the agent went away before it got the message
    again, out = c.connect("a", held=())
    assert [m.run_id for m in sent(out, Assignment)] == [run_id]
    assert c.state(run_id) is RunState.ASSIGNED


def test_after_a_reconnect_a_run_the_agent_forgot_is_lost_and_retried(c):
    c.enroll("a")
    run_id = c.submit(retries=1)
    session, _ = c.connect("a")
    c.report("a", session, 1, update(run_id, RunState.RUNNING))
    _, out = c.connect("a", held=())  # restarted without its data
    run = c.store.run(run_id)
    assert run is not None
    assert [e.state for e in run.events][-3:] == [RunState.LOST, RunState.QUEUED, RunState.ASSIGNED]
    assert "no longer knows this run" in run.events[-3].cause
    assert [m.attempt for m in sent(out, Assignment)] == [2]


def test_after_a_reconnect_a_job_that_is_no_longer_current_is_cancelled(c):
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    c.report("a", session, 1, update(run_id, RunState.RUNNING))
    held = (HeldRun(run_id, 1, RunState.RUNNING), HeldRun("r-gone", 3, RunState.RUNNING))
    _, out = c.connect("a", held=held)
    assert sent(out, Cancel) == [Cancel("r-gone", 3, 7.0, "this attempt is no longer current")]
    assert c.state(run_id) is RunState.RUNNING


def test_a_silent_node_is_unreachable_then_its_runs_are_lost_and_retried_elsewhere(c):
    c.enroll("a")
    run_id = c.submit(retries=1)
    session, _ = c.connect("a")
    c.report("a", session, 1, update(run_id, RunState.RUNNING))
    c.enroll("b")
    c.now += TIMEOUT + 1
    b, _ = c.connect("b")  # b keeps talking; a is silent
    assert c.ctx.liveness.state("a", c.now) == "unreachable"
    c.handle(Tick())
    assert c.state(run_id) is RunState.RUNNING  # unreachable is not lost
    c.now = T0 + GRACE + 1
    c.handle(Received("b", b, _beat()))
    out = c.handle(Tick())
    assert c.ctx.liveness.state("a", c.now) == "offline"
    run = c.store.run(run_id)
    assert run is not None and run.node == "b" and run.attempt == 2
    lost = next(e for e in run.events if e.state is RunState.LOST)
    assert lost.cause == f"node a silent for {GRACE + 1:.0f}s, past the {GRACE:g}s grace"
    assert [(m.run_id, m.attempt) for m in sent(out, Assignment)] == [(run_id, 2)]


def test_a_cancel_is_sent_once_per_session(c):
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    c.report("a", session, 1, update(run_id, RunState.RUNNING))
    runs.cancel(c.ctx, ADMIN, run_id)
    assert sent(c.handle(Tick()), Cancel) == [Cancel(run_id, 1, 7.0, "cancelled by a user")]
    assert sent(c.handle(Tick()), Cancel) == []
    again, _ = c.connect("a", held=(HeldRun(run_id, 1, RunState.RUNNING),))
    assert sent(c.handle(Tick()), Cancel) == []  # sent on connect already (the new session's own)


def test_an_unreadable_report_is_retried_then_set_aside_and_the_link_goes_on(c):
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    bad = Unreadable("a", session, 5, "run_update", 'run_update { state: "paused" }', "unknown run state 'paused'")
    for _ in range(1, MAX_FAILURES):
        assert c.handle(bad) == [Close(session)]  # no ack: the agent resends it after reconnecting
        # nothing more is taken from a stream that must reconnect (an ack would cover the bad report)
        assert c.report("a", session, 6, update(run_id, RunState.RUNNING)) == []
        session, _ = c.connect("a")
        bad = Unreadable("a", session, 5, bad.kind, bad.text, bad.error)
    assert c.handle(bad) == [Send(session, Ack(5))]
    [kept] = c.store.quarantined("a")
    assert (kept.seq, kept.kind, kept.failures) == (5, "run_update", MAX_FAILURES)
    assert "paused" in kept.message and "unknown run state" in kept.error
    assert c.store.audit(action_prefix="link.quarantine")[0].target == "a/5"
    # the node's other reports keep being applied
    assert c.report("a", session, 6, update(run_id, RunState.RUNNING))[-1] == Send(session, Ack(6))
    assert c.state(run_id) is RunState.RUNNING


def test_a_report_that_fails_once_is_applied_when_sent_again_and_leaves_nothing_half_done(c, monkeypatch):
    c.enroll("a")
    run_id = c.submit()
    session, _ = c.connect("a")
    c.report("a", session, 1, update(run_id, RunState.RUNNING))
    real = c.store.add_logs
    monkeypatch.setattr(c.store, "add_logs", _fails_once(real))
    batch = LogBatch(run_id, (LogChunk(1, 1, "stdout", b"hello\n", T0),))
    assert c.report("a", session, 2, batch) == [Close(session)]
    assert c.store.logs(run_id) == []
    session, _ = c.connect("a", held=(HeldRun(run_id, 1, RunState.RUNNING),))
    assert c.report("a", session, 2, batch) == [Changed(), Send(session, Ack(2))]
    assert [x.data for x in c.store.logs(run_id)] == [b"hello\n"]
    assert c.store.quarantined() == []


def test_a_disconnect_of_a_replaced_session_changes_nothing(c):
    c.enroll("a")
    old, _ = c.connect("a")
    new, out = c.connect("a")
    assert Close(old) in out
    c.handle(Disconnected("a", old))
    assert c.dispatcher.sessions["a"].id == new and c.ctx.liveness.connected == {"a"}


def test_a_second_live_identity_is_refused_and_recorded_until_the_first_falls_silent(c):
    from kiln.core.errors import PermissionDenied

    c.enroll("a")
    run_id = c.submit()
    first, _ = c.connect("a", address="10.0.0.1")
    assert c.state(run_id) is RunState.ASSIGNED
    for instance in ("a-clone", ""):  # another agent process, or one that says nothing of itself
        with pytest.raises(PermissionDenied, match="node a is already connected from 10.0.0.1; .*kiln node reset a"):
            c.connect("a", instance=instance, address="10.0.0.9")
    assert c.dispatcher.sessions["a"].id == first and c.state(run_id) is RunState.ASSIGNED
    node = c.store.node("a")
    assert node is not None and (node.duplicates, node.duplicate_at, node.duplicate_from) == (2, T0, "10.0.0.9")
    audited = c.store.audit(action_prefix="node.duplicate_identity")
    assert len(audited) == 1  # a copy that keeps knocking is audited once an hour per address, counted every time
    c.now += TIMEOUT + 1  # the first stream fell silent: a restarted agent is let in
    second, out = c.connect("a", instance="a-restarted", address="10.0.0.1")
    assert Close(first) in out and c.dispatcher.sessions["a"].id == second


def test_an_agent_naming_another_node_is_refused(c):
    c.enroll("a")
    from kiln.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="certificate names node 'a'"):
        c.handle(Connected("a", 1, Hello(name="b", version="t")))
    assert c.dispatcher.sessions == {}


def _beat() -> object:
    from kiln.core.link import Heartbeat

    return Heartbeat(INVENTORY)


def _fails_once(real):  # type: ignore[no-untyped-def]
    calls = []

    def add_logs(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)

    return add_logs


def _logs(run_id: str, attempt: int, text: bytes, seq: int = 1) -> LogBatch:
    return LogBatch(run_id, (LogChunk(attempt, seq, "stdout", text, T0),))


def test_logs_are_kept_only_for_the_attempt_that_runs_now_on_its_node(c):
    c.enroll("a")
    c.enroll("b")
    run_id = c.submit(retries=1)
    a, _ = c.connect("a")
    c.report("a", a, 1, update(run_id, RunState.RUNNING))
    assert c.report("a", a, 2, _logs(run_id, 1, b"mine\n")) == [Changed(), Send(a, Ack(2))]
    # an attempt that never existed, a run that does not, and a node the run is not on: acknowledged, not kept
    assert c.report("a", a, 3, _logs(run_id, 2, b"invented\n")) == [Send(a, Ack(3))]
    assert c.report("a", a, 4, _logs("r-0123456789ab", 1, b"nobody's\n")) == [Send(a, Ack(4))]
    b, _ = c.connect("b")
    assert c.report("b", b, 1, _logs(run_id, 1, b"not b's\n")) == [Send(b, Ack(1))]
    assert [x.data for x in c.store.logs(run_id)] == [b"mine\n"]
    # a goes silent; the run is lost and placed on b as attempt 2: a's late output of attempt 1 is not kept
    c.now = T0 + GRACE + 1
    c.handle(Received("b", b, _beat()))
    c.handle(Tick())
    assert (c.store.run(run_id).node, c.store.run(run_id).attempt) == ("b", 2)  # type: ignore[union-attr]
    c.report("a", a, 5, _logs(run_id, 1, b"late\n", seq=2))
    assert c.report("b", b, 2, _logs(run_id, 2, b"second\n")) == [Changed(), Send(b, Ack(2))]
    # once the run has ended, nothing more is kept for it
    c.report("b", b, 3, update(run_id, RunState.SUCCEEDED, attempt=2, exit_code=0))
    assert c.report("b", b, 4, _logs(run_id, 2, b"after the end\n", seq=2)) == [Send(b, Ack(4))]
    assert [(x.attempt, x.data) for x in c.store.logs(run_id)] == [(1, b"mine\n"), (2, b"second\n")]
