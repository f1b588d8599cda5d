"""The coordinator's side of the agent link, as decisions: `handle(event, now) -> commands`.

Events are what happened on the link (an agent connected, a report arrived or could not be read, a
stream ended), the dispatch tick, and admin actions; commands are what the link must do (send a message
on a session, end a session, wake the log followers). Everything here works on `kiln.core.link` values,
the store and the clock it is given, so fencing, reconciliation, loss and poison messages are tested on a
fake clock without a server. The link module (`kiln.coordinator.rpc.link`) runs `handle` on one thread of
its own, one event at a time, never on the server's event loop.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections import Counter
from dataclasses import dataclass, field

from kiln.coordinator import environments, tracking
from kiln.coordinator.context import Coordinator
from kiln.coordinator.datasets import resolve_inputs
from kiln.coordinator.deployments import scoring
from kiln.coordinator.deployments.controller import Controller
from kiln.coordinator.mlflow.inrun import run_env
from kiln.coordinator.runs import pending, transition
from kiln.coordinator.schedules import firing as schedule_firing
from kiln.coordinator.schedview import node_views
from kiln.coordinator.store.placement import ActiveUse
from kiln.core import lineage
from kiln.core.deployments import ADDRESS_TAG
from kiln.core.errors import FailedPrecondition, PermissionDenied
from kiln.core.link import (
    Ack,
    Assignment,
    Cancel,
    CoordinatorMessage,
    DatasetMount,
    Drain,
    Heartbeat,
    Hello,
    LogBatch,
    Quarantined,
    RunUpdate,
    Sequenced,
    TrackBatch,
    Welcome,
    already_connected,
)
from kiln.core.models import Inventory
from kiln.core.runs import Run, RunEvent, RunState
from kiln.core.scheduling import schedule

PROGRESS_CHARS = 500  # of a progress event a node reports while preparing a run
log = logging.getLogger("kiln.coordinator.dispatch")

INVENTORY_PERSIST_S = 60.0
# A report that fails this many times is acknowledged and set aside: the agent would otherwise resend it
# on every reconnection, forever, and nothing behind it would get through.
MAX_FAILURES = 3
# How much of a quarantined message and its error is kept.
QUARANTINE_TEXT = 16 * 1024
# A copy of a node's identity that keeps knocking is audited once this often (per address it knocks from);
# the node's count and last time are kept for every refusal.
DUPLICATE_AUDIT_S = 3600.0


# -- events -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    node: str  # as its certificate names it
    session: int
    hello: Hello
    address: str = ""  # where the connection comes from (host:port), for the operator


@dataclass(frozen=True)
class Received:
    node: str
    session: int
    message: Sequenced | Heartbeat


@dataclass(frozen=True)
class Unreadable:
    """A report that could not even be decoded (e.g. a state from a newer agent)."""

    node: str
    session: int
    seq: int
    kind: str
    text: str  # the message as text, for the quarantine
    error: str  # why, with the traceback of the decoding


@dataclass(frozen=True)
class Disconnected:
    node: str
    session: int


@dataclass(frozen=True)
class Tick:
    """Time to place queued runs, send pending cancels and lose the runs of silent nodes."""


@dataclass(frozen=True)
class DrainSet:
    node: str
    drain: bool


@dataclass(frozen=True)
class NodeRemoved:
    node: str


Event = Connected | Received | Unreadable | Disconnected | Tick | DrainSet | NodeRemoved


# -- commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    session: int
    message: CoordinatorMessage


@dataclass(frozen=True)
class Close:
    """End this session's stream: the agent reconnects and resends what was not acknowledged."""

    session: int


@dataclass(frozen=True)
class Changed:
    """Runs or their logs changed: log followers should look again."""


@dataclass(frozen=True)
class Wake:
    """Something may now be placed (a node connected, a run ended): tick soon. Ticks are coalesced, so a
    burst of ended runs costs one placement pass, not one each."""


Command = Send | Close | Changed | Wake


@dataclass
class Session:
    """One connected agent, as the dispatcher keeps it."""

    node: str
    id: int
    persisted_at: float
    cancels_sent: set[tuple[str, int]] = field(default_factory=set)
    failed: bool = False  # a report failed on this session: nothing more is taken from it
    instance: str = ""  # the agent process's id, from its hello
    address: str = ""


class Dispatcher:
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.liveness = ctx.liveness
        self.sessions: dict[str, Session] = {}
        self.failures: Counter[tuple[str, int]] = Counter()  # (node, seq) -> times it failed
        self.deployments = Controller()  # endpoints' replicas, reconciled on the tick
        self.next_schedule_fire: float | None = None  # when the tick must come next for a schedule to fire

    def handle(self, event: Event, now: float) -> list[Command]:
        out: list[Command] = []
        match event:
            case Connected(node=node, session=session, hello=hello, address=address):
                self._connect(node, session, hello, address, now, out)
            case Received(node=node, session=session, message=message):
                self._receive(node, session, message, now, out)
            case Unreadable():
                self._unreadable(event, now, out)
            case Disconnected(node=node, session=session):
                self._disconnect(node, session, now)
            case Tick():
                self._tick(now, out)
            case DrainSet(node=node, drain=drain):
                if node in self.sessions:
                    out.append(Send(self.sessions[node].id, Drain(drain)))
            case NodeRemoved(node=node):
                found = self.sessions.pop(node, None)
                if found is not None:
                    out.append(Close(found.id))
                self.liveness.forget(node)
        return out

    # -- connections ------------------------------------------------------------------------------------

    def _connect(self, node: str, session: int, hello: Hello, address: str, now: float, out: list[Command]) -> None:
        if hello.name and hello.name != node:
            raise PermissionDenied(f"this agent's certificate names node {node!r}, but it says it is {hello.name!r}")
        old = self.sessions.get(node)
        if old is not None and not self._replaces(old, hello, now):
            self._duplicate(old, address, now)
        self.store.update_node(
            node, now, labels=hello.labels, runtimes=hello.runtimes, inventory=hello.inventory, version=hello.version
        )
        if old is not None:
            out.append(Close(old.id))
        current = Session(node, session, persisted_at=now, instance=hello.instance, address=address)
        self.sessions[node] = current
        self.liveness.connect(node, now)
        self.liveness.seen(node, now, hello.inventory)
        found = self.store.node(node)
        out.append(
            Send(
                session,
                Welcome(node, self.ctx.config.heartbeat_interval_s, drained=bool(found and found.drained)),
            )
        )
        self._reconcile(current, {(h.run_id, h.attempt): h.state for h in hello.runs}, now, out)
        out.append(Wake())

    def _replaces(self, old: Session, hello: Hello, now: float) -> bool:
        """One live identity per node: a new stream replaces the open one only if it is the same agent
        process coming back (its hello carries the instance id of the open stream: the agent lost its link
        before the coordinator noticed), or if the open stream has been silent past the heartbeat timeout
        (a restarted agent, after the host or its network went away). A copy of the identity running beside
        the original (a cloned VM, a job that read the key) is neither, and is refused."""
        if hello.instance and hello.instance == old.instance:
            return True
        return self.liveness.silence(old.node, now) > self.ctx.config.heartbeat_timeout_s

    def _duplicate(self, old: Session, address: str, now: float) -> None:
        """Refuses a second live connection with a node's identity: counted on the node, audited (once per
        DUPLICATE_AUDIT_S and address, as a refused copy keeps knocking), and told what to do."""
        found = self.store.node(old.node)
        quiet = found is None or now - found.duplicate_at > DUPLICATE_AUDIT_S or found.duplicate_from != address
        with self.store.transaction():
            self.store.add_duplicate(old.node, now, address)
            if quiet:
                self.store.append_audit(
                    f"node:{old.node}",
                    "node.duplicate_identity",
                    old.node,
                    {"connected_from": old.address, "refused_from": address},
                )
        raise PermissionDenied(already_connected(old.node, old.address))  # the interceptor logs the refusal

    def _reconcile(
        self, session: Session, held: dict[tuple[str, int], RunState], now: float, out: list[Command]
    ) -> None:
        """Agrees with a (re)connected agent on what it runs: assignments it never got are sent again, runs it
        forgot are lost, and jobs it holds that are no longer its to run are cancelled."""
        for run in self.store.active_runs(session.node):
            if (run.id, run.attempt) in held:
                continue
            if run.state is RunState.ASSIGNED:
                out.append(Send(session.id, self._assignment(run)))
            else:
                self._lose(
                    run, f"the agent on {session.node} no longer knows this run (restarted without its data?)", now, out
                )
        for (run_id, attempt), state in held.items():
            found = self.store.run(run_id, with_events=False)
            current = found is not None and found.node == session.node and found.attempt == attempt
            if not current and not state.terminal:
                self._cancel(session, run_id, attempt, "this attempt is no longer current", out)

    def _disconnect(self, node: str, session: int, now: float) -> None:
        current = self.sessions.get(node)
        if current is None or current.id != session:
            return  # an older session, already replaced
        del self.sessions[node]
        self.liveness.disconnect(node)
        self.store.update_node(node, now, inventory=self.liveness.inventory_of(node, Inventory()))

    # -- reports ----------------------------------------------------------------------------------------

    def _receive(self, node: str, session: int, message: Sequenced | Heartbeat, now: float, out: list[Command]) -> None:
        current = self.sessions.get(node)
        if current is None or current.id != session or current.failed:
            return  # a stale stream, or one that must reconnect before it is heard again
        self.liveness.seen(node, now)
        if isinstance(message, Heartbeat):
            self._heartbeat(current, message, now)
            return
        done: list[Command] = []
        try:
            with self.store.transaction():  # a report that fails leaves nothing half-applied
                self._apply(current, message.message, now, done)
        except Exception as e:
            log.error("could not apply report %d from node %s", message.seq, node, exc_info=True)
            self._failed(
                current, message.seq, type(message.message).__name__, repr(message.message), describe_error(e), now, out
            )
            return
        self.failures.pop((node, message.seq), None)
        out.extend(done)
        out.append(Send(session, Ack(message.seq)))

    def _unreadable(self, event: Unreadable, now: float, out: list[Command]) -> None:
        current = self.sessions.get(event.node)
        if current is None or current.id != event.session or current.failed:
            return
        self.liveness.seen(event.node, now)
        log.error("could not read report %d (%s) from node %s:\n%s", event.seq, event.kind, event.node, event.error)
        self._failed(current, event.seq, event.kind, event.text, event.error, now, out)

    def _failed(
        self, session: Session, seq: int, kind: str, text: str, error: str, now: float, out: list[Command]
    ) -> None:
        """A report that could not be applied: the stream ends so the agent resends it (the cause may pass),
        and once it has failed MAX_FAILURES times it is acknowledged and kept aside, so the link goes on."""
        key = (session.node, seq)
        self.failures[key] += 1
        if self.failures[key] < MAX_FAILURES:
            session.failed = True
            out.append(Close(session.id))
            return
        failures = self.failures.pop(key)
        quarantined = Quarantined(
            node=session.node,
            seq=seq,
            kind=kind,
            message=text[:QUARANTINE_TEXT],
            error=error[:QUARANTINE_TEXT],
            failures=failures,
            time=now,
        )
        with self.store.transaction():
            self.store.quarantine(quarantined)
            self.store.append_audit(
                f"node:{session.node}", "link.quarantine", f"{session.node}/{seq}", {"kind": kind, "error": error[:500]}
            )
        log.error(
            "set aside report %d (%s) from node %s after %d failures; kiln node quarantine %s shows it",
            seq,
            kind,
            session.node,
            failures,
            session.node,
        )
        out.append(Send(session.id, Ack(seq)))

    def _apply(
        self, session: Session, message: RunUpdate | LogBatch | TrackBatch, now: float, out: list[Command]
    ) -> None:
        match message:
            case RunUpdate():
                self._run_update(session, message, now, out)
            case LogBatch():
                # only output of the attempt that runs now, on the node that runs it: a stale attempt's
                # (a run lost and placed again, a job that outlived a cancel) or an invented one is dropped
                run = self.store.run(message.run_id, with_events=False)
                if run is not None and run.node == session.node and not run.state.terminal:
                    chunks = [c for c in message.chunks if c.attempt == run.attempt]
                    if chunks:
                        self.store.add_logs(run.id, chunks)
                        out.append(Changed())
            case TrackBatch():
                if tracking.ingest(self.ctx, session.node, message, now):
                    out.append(Changed())
                    if ADDRESS_TAG in message.tags:  # a replica serves: its endpoint may switch now
                        self.deployments.poke()
                        out.append(Wake())

    def _heartbeat(self, session: Session, beat: Heartbeat, now: float) -> None:
        self.liveness.seen(session.node, now, beat.inventory)
        if now - session.persisted_at > INVENTORY_PERSIST_S:
            session.persisted_at = now
            self.store.update_node(session.node, now, inventory=beat.inventory)

    def _run_update(self, session: Session, update: RunUpdate, now: float, out: list[Command]) -> None:
        run = self.store.run(update.run_id, with_events=False)
        state = update.state
        if run is None or run.node != session.node or run.attempt != update.attempt:
            if not state.terminal:  # a stale attempt (fencing): stop it
                self._cancel(session, update.run_id, update.attempt, "this attempt is no longer current", out)
            return
        if run.state is state is RunState.PREPARING and update.reason and not run.state.terminal:
            # progress while preparing (fetching an environment, building it): an event, not a transition
            event = RunEvent(now, state, update.reason[:PROGRESS_CHARS], session.node, run.attempt)
            self.store.add_run_event(run.id, event)
            out.append(Changed())
            return
        if run.state is state or run.state.terminal:
            return  # a repeat after reconnection, or a run already settled (lost, cancelled)
        fields: dict[str, object] = {}
        facts = update.environment
        if facts and state.terminal and not run.spec.builds:  # the agent's description of what the run ran
            known = self.store.environment(run.id)  # in comes at its end: it adds to what the SDK said, never over
            facts = {k: v for k, v in facts.items() if k not in known}
        if facts:
            self.store.add_environment(run.id, facts)
        if state.terminal:
            fields = {
                "exit_code": update.exit_code,
                "reason": update.reason,
                "output_snapshot": self._checked_output(run, update.output_snapshot),
            }
        cause = f"{state} on {session.node}" + (f": {update.reason}" if update.reason else "")
        try:
            transition(self.store, run, state, cause, now, **fields)
        except FailedPrecondition as e:
            log.warning("ignoring update for %s: %s", run.id, e)
            return
        output = str(fields.get("output_snapshot") or "")
        if output and output != run.spec.snapshot:  # an unchanged folder is no output (an older agent sends it)
            # the store also refuses an output older than the run: content it cannot have made
            self.store.add_edges([lineage.Edge(lineage.run_id(run.id), lineage.snapshot_id(output), "output")], now)
        if state.terminal and run.spec.builds:
            environments.settle_build(self.ctx, run, state, self.store.environment(run.id), update.reason)
        if state.terminal:  # a batch scoring's predictions become a dataset version
            scoring.settle(self.ctx, run, state, output)
        if state.terminal:  # by now the agent and the run's SDK have said all they will about its environment
            environment = lineage.environment_id(self.store.environment(run.id))
            if environment:
                self.store.add_edges([lineage.Edge(environment, lineage.run_id(run.id), "environment")], now)
        out.append(Changed())
        if state.terminal:
            out.append(Wake())  # its resources are free: place what waits

    def _checked_output(self, run: Run, snapshot: str) -> str:
        if snapshot and self.store.snapshot(run.spec.project, snapshot) is None:
            log.warning("run %s reported output snapshot %s that its project does not hold", run.id, snapshot)
            return ""
        return snapshot

    # -- the tick ---------------------------------------------------------------------------------------

    def _tick(self, now: float, out: list[Command]) -> None:
        use = self.store.active_use()
        if self._declare_lost(use, now, out):
            use = self.store.active_use()
        if self.deployments.reconcile(self.ctx, now):
            use = self.store.active_use()
        schedule_firing.fire_due(self.ctx, now)  # the runs it queues are placed by this same pass
        self.next_schedule_fire = schedule_firing.next_due(self.ctx)
        self._send_cancels(out)
        self._place(use, now, out)

    def _place(self, use: ActiveUse, now: float, out: list[Command]) -> None:
        queued = self.store.runs(states=[RunState.QUEUED])
        if not queued:
            return
        by_id = {r.id: r for r in queued}
        views = [v for v in node_views(self.ctx, now, use) if v.name in self.sessions]
        queue = [pending(r, environments.digest_of(self.ctx, r)) for r in queued]
        with self.store.transaction():  # the pass is one commit; its assignments go out once it is made
            for p in schedule(queue, views, use.users):
                run = by_id[p.run_id]
                fields = {"node": p.node, "runtime": p.runtime, "attempt": run.attempt + 1, "gpu_uuids": p.gpu_uuids}
                transition(self.store, run, RunState.ASSIGNED, f"placed on {p.node}", now, **fields)
                placed = dataclasses.replace(run, state=RunState.ASSIGNED, **fields)  # type: ignore[arg-type]
                out.append(Send(self.sessions[p.node].id, self._assignment(placed)))

    def _assignment(self, run: Run) -> Assignment:
        mounts = resolve_inputs(self.ctx, run.spec.project, run.spec.datasets)
        mlflow = run_env(self.ctx, run)  # never stored with the spec: the token is the run's alone
        return Assignment(
            run_id=run.id,
            attempt=run.attempt,
            spec=dataclasses.replace(run.spec, env={**mlflow, **run.spec.env}) if mlflow else run.spec,
            runtime=run.runtime,
            user=run.user,
            gpu_uuids=run.gpu_uuids,
            datasets=tuple(DatasetMount(name=n, version=v, snapshot=s) for n, v, s in mounts),
            environment=environments.node_ref(self.ctx, run),
        )

    def _send_cancels(self, out: list[Command]) -> None:
        for run_id, attempt, node in self.store.cancels_due():
            session = self.sessions.get(node)
            if session and (run_id, attempt) not in session.cancels_sent:
                self._cancel(session, run_id, attempt, "cancelled by a user", out)

    def _cancel(self, session: Session, run_id: str, attempt: int, reason: str, out: list[Command]) -> None:
        session.cancels_sent.add((run_id, attempt))
        out.append(Send(session.id, Cancel(run_id, attempt, self.ctx.config.cancel_grace_s, reason)))

    def _declare_lost(self, use: ActiveUse, now: float, out: list[Command]) -> bool:
        """Loses the runs of nodes silent past the grace period; True if there were any."""
        lost = self.liveness.lost(sorted(use.nodes), now)
        for node in lost:
            silent = self.liveness.silence(node, now)
            grace = self.ctx.config.lost_grace_s
            runs = self.store.active_runs(node) if node else [r for r in self.store.active_runs() if not r.node]
            for run in runs:
                self._lose(run, f"node {run.node} silent for {silent:.0f}s, past the {grace:g}s grace", now, out)
        return bool(lost)

    def _lose(self, run: Run, cause: str, now: float, out: list[Command]) -> None:
        """The run's node is gone (or forgot it): lost, then queued again while retries remain."""
        out.append(Changed())
        if run.cancel_requested:
            transition(self.store, run, RunState.CANCELLED, f"cancelled; {cause}", now)
            return
        transition(self.store, run, RunState.LOST, cause, now)
        retries = self.store.retries_left(run.id)
        if retries > 0:
            lost = self.store.run(run.id, with_events=False)
            assert lost is not None
            transition(
                self.store,
                lost,
                RunState.QUEUED,
                f"retrying ({retries} retr{'y' if retries == 1 else 'ies'} left)",
                now,
                node="",
                gpu_uuids=(),
                retries_left=retries - 1,
            )


def describe_error(error: BaseException) -> str:
    """What failed first (one line, as listings show it), then where: the traceback."""
    where = "".join(traceback.format_tb(error.__traceback__))
    return f"{type(error).__name__}: {error}\nTraceback (most recent call last):\n{where}".rstrip()
