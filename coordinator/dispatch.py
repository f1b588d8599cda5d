"""The live side of the coordinator: agent sessions, placing queued runs, applying what agents report,
and declaring runs lost when their node stays silent past the grace period.

Everything here runs on the server's event loop; store calls are short and synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field

from kiln import serde
from kiln.coordinator import tracking
from kiln.coordinator.context import Coordinator
from kiln.coordinator.datasets import resolve_inputs
from kiln.coordinator.runs import pending, transition
from kiln.coordinator.schedview import node_views
from kiln.core import clock, lineage
from kiln.core.errors import FailedPrecondition, PermissionDenied
from kiln.core.models import Inventory
from kiln.core.runs import ACTIVE, Run, RunState
from kiln.core.scheduling import schedule
from kiln.proto.v1 import nodes_pb2

log = logging.getLogger("kiln.coordinator.dispatch")

TICK_S = 1.0
MIN_TICK_S = 0.01
INVENTORY_PERSIST_S = 60.0


@dataclass
class AgentSession:
    """One connected agent: its outgoing queue, and the cancels already sent on this connection."""

    node: str
    outbox: asyncio.Queue[nodes_pb2.CoordinatorMessage | None] = field(default_factory=asyncio.Queue)
    cancels_sent: set[tuple[str, int]] = field(default_factory=set)
    persisted_at: float = 0.0

    def send(self, **body: object) -> None:
        self.outbox.put_nowait(nodes_pb2.CoordinatorMessage(**body))  # type: ignore[arg-type]

    def close(self) -> None:
        self.outbox.put_nowait(None)


class Dispatcher:
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.sessions: dict[str, AgentSession] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()

    # -- the loop ---------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            await asyncio.sleep(MIN_TICK_S)  # a burst of submissions is placed in one pass
            self._wake.clear()
            try:
                self.tick()
            except Exception:
                log.exception("dispatch tick failed")

    def tick(self) -> None:
        active = self.store.runs(states=ACTIVE)
        if self._declare_lost(active):
            active = self.store.runs(states=ACTIVE)
        self._send_cancels(active)
        self._place(active)

    async def changed(self, timeout: float) -> None:
        """Waits until a run changes or logs arrive (or `timeout`): followers poll the store after it."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def _place(self, active: list[Run]) -> None:
        queued = self.store.runs(states=[RunState.QUEUED])
        if not queued:
            return
        by_id = {r.id: r for r in queued}
        per_user = Counter(r.user for r in active)
        views = [v for v in node_views(self.ctx, active) if v.name in self.sessions]
        for p in schedule([pending(r) for r in queued], views, per_user):
            run = by_id[p.run_id]
            transition(
                self.store,
                run,
                RunState.ASSIGNED,
                f"placed on {p.node}",
                node=p.node,
                runtime=p.runtime,
                attempt=run.attempt + 1,
                gpu_uuids=p.gpu_uuids,
            )
            self._assign(self.sessions[p.node], self.store.run(run.id, with_events=False))

    def _assign(self, session: AgentSession, run: Run | None) -> None:
        assert run is not None
        mounts = [
            nodes_pb2.DatasetMount(name=n, version=v, snapshot=s)
            for n, v, s in resolve_inputs(self.ctx, run.spec.project, run.spec.datasets)
        ]
        session.send(
            assign=nodes_pb2.Assignment(
                run_id=run.id,
                attempt=run.attempt,
                spec=serde.run_spec_to_proto(run.spec),
                runtime=run.runtime,
                gpu_uuids=list(run.gpu_uuids),
                user=run.user,
                datasets=mounts,
            )
        )

    def _send_cancels(self, active: list[Run]) -> None:
        for run in active:
            session = self.sessions.get(run.node)
            if run.cancel_requested and session and (run.id, run.attempt) not in session.cancels_sent:
                self._cancel(session, run.id, run.attempt, "cancelled by a user")

    def _cancel(self, session: AgentSession, run_id: str, attempt: int, reason: str) -> None:
        session.cancels_sent.add((run_id, attempt))
        session.send(
            cancel=nodes_pb2.Cancel(
                run_id=run_id, attempt=attempt, grace_s=self.ctx.config.cancel_grace_s, reason=reason
            )
        )

    def _declare_lost(self, active: list[Run]) -> bool:
        """Loses the runs of nodes silent past the grace period; True if there were any."""
        lost = False
        for run in active:
            if self.ctx.liveness.is_lost(run.node):
                lost = True
                silent = self.ctx.liveness.silence(run.node)
                self.lose(
                    run,
                    f"node {run.node} silent for {silent:.0f}s, past the {self.ctx.config.lost_grace_s:g}s grace",
                )
        return lost

    def lose(self, run: Run, cause: str) -> None:
        """The run's node is gone (or forgot it): lost, then queued again while retries remain."""
        if run.cancel_requested:
            transition(self.store, run, RunState.CANCELLED, f"cancelled; {cause}")
            return
        transition(self.store, run, RunState.LOST, cause)
        retries = self.store.retries_left(run.id)
        if retries > 0:
            lost = self.store.run(run.id, with_events=False)
            assert lost is not None
            transition(
                self.store,
                lost,
                RunState.QUEUED,
                f"retrying ({retries} retr{'y' if retries == 1 else 'ies'} left)",
                node="",
                gpu_uuids=(),
                retries_left=retries - 1,
            )
        self._notify()
        self.wake()

    # -- agents -----------------------------------------------------------------------------------------

    def connect(self, node: str, hello: nodes_pb2.Hello) -> AgentSession:
        if hello.name and hello.name != node:
            raise PermissionDenied(f"this agent's certificate names node {node!r}, but it says it is {hello.name!r}")
        inventory = serde.inventory_from_proto(hello.inventory)
        self.store.update_node(
            node,
            clock.now(),
            labels=dict(hello.labels),
            runtimes=dict(hello.runtimes),
            inventory=inventory,
            version=hello.version,
        )
        old = self.sessions.pop(node, None)
        if old is not None:
            old.close()
        session = AgentSession(node, persisted_at=clock.now())
        self.sessions[node] = session
        self.ctx.liveness.connect(node)
        self.ctx.liveness.seen(node, inventory)
        found = self.store.node(node)
        session.send(
            welcome=nodes_pb2.Welcome(
                node=node,
                heartbeat_interval_s=self.ctx.config.heartbeat_interval_s,
                drained=bool(found and found.drained),
            )
        )
        self._reconcile(session, {(h.run_id, h.attempt): h.state for h in hello.runs})
        self.wake()
        return session

    def _reconcile(self, session: AgentSession, held: dict[tuple[str, int], str]) -> None:
        """Agrees with a (re)connected agent on what it runs: assignments it never got are sent again, runs it
        forgot are lost, and jobs it holds that are no longer its to run are cancelled."""
        for run in self.store.active_runs(session.node):
            if (run.id, run.attempt) in held:
                continue
            if run.state is RunState.ASSIGNED:
                self._assign(session, run)
            else:
                self.lose(run, f"the agent on {session.node} no longer knows this run (restarted without its data?)")
        for (run_id, attempt), state in held.items():
            run = self.store.run(run_id, with_events=False)
            current = run is not None and run.node == session.node and run.attempt == attempt
            if not current and not RunState(state).terminal:
                self._cancel(session, run_id, attempt, "this attempt is no longer current")

    def disconnect(self, session: AgentSession) -> None:
        if self.sessions.get(session.node) is session:
            del self.sessions[session.node]
            self.ctx.liveness.disconnect(session.node)
            self.store.update_node(
                session.node,
                clock.now(),
                inventory=self.ctx.liveness.inventory.get(session.node, Inventory()),
            )

    def handle(self, session: AgentSession, message: nodes_pb2.AgentMessage) -> None:
        """Applies one agent message; it is stored (or recognised as a repeat) once this returns."""
        kind = message.WhichOneof("body")
        if kind == "heartbeat":
            self._heartbeat(session, message.heartbeat)
        elif kind == "run_update":
            self.ctx.liveness.seen(session.node)
            self._run_update(session, message.run_update)
        elif kind == "logs":
            self.ctx.liveness.seen(session.node)
            self._logs(session, message.logs)
        elif kind == "track":
            self.ctx.liveness.seen(session.node)
            if tracking.ingest(self.ctx, session.node, serde.track_batch_from_proto(message.track)):
                self._notify()
        if message.seq:
            session.send(ack=nodes_pb2.Ack(seq=message.seq))

    def _heartbeat(self, session: AgentSession, beat: nodes_pb2.Heartbeat) -> None:
        inventory = serde.inventory_from_proto(beat.inventory)
        self.ctx.liveness.seen(session.node, inventory)
        if clock.now() - session.persisted_at > INVENTORY_PERSIST_S:
            session.persisted_at = clock.now()
            self.store.update_node(session.node, clock.now(), inventory=inventory)

    def _run_update(self, session: AgentSession, update: nodes_pb2.RunUpdate) -> None:
        run = self.store.run(update.run_id, with_events=False)
        state = RunState(update.state)
        if run is None or run.node != session.node or run.attempt != update.attempt:
            if not state.terminal:  # a stale attempt (fencing): stop it
                self._cancel(session, update.run_id, update.attempt, "this attempt is no longer current")
            return
        if run.state is state or run.state.terminal:
            return  # a repeat after reconnection, or a run already settled (lost, cancelled)
        fields: dict[str, object] = {}
        if update.environment:
            self.store.add_environment(run.id, dict(update.environment))
        if state.terminal:
            fields = {
                "exit_code": update.exit_code if update.has_exit_code else None,
                "reason": update.reason,
                "output_snapshot": self._checked_output(run, update.output_snapshot),
            }
        cause = f"{state} on {session.node}" + (f": {update.reason}" if update.reason else "")
        try:
            transition(self.store, run, state, cause, **fields)
        except FailedPrecondition as e:
            log.warning("ignoring update for %s: %s", run.id, e)
            return
        if fields.get("output_snapshot"):
            self.store.add_edges(
                [lineage.Edge(lineage.run_id(run.id), lineage.snapshot_id(str(fields["output_snapshot"])), "output")],
                clock.now(),
            )
        self._notify()
        if state.terminal:
            self.wake()

    def _checked_output(self, run: Run, snapshot: str) -> str:
        if snapshot and self.store.snapshot(run.spec.project, snapshot) is None:
            log.warning("run %s reported output snapshot %s that its project does not hold", run.id, snapshot)
            return ""
        return snapshot

    def _logs(self, session: AgentSession, batch: nodes_pb2.LogBatch) -> None:
        run = self.store.run(batch.run_id, with_events=False)
        if run is None or run.node != session.node:
            return
        self.store.add_logs(run.id, [serde.log_chunk_from_proto(c) for c in batch.chunks])
        self._notify()

    # -- admin actions ----------------------------------------------------------------------------------

    def set_drain(self, node: str, drain: bool) -> None:
        session = self.sessions.get(node)
        if session:
            session.send(drain=nodes_pb2.Drain(drain=drain))
        self.wake()

    def drop(self, node: str) -> None:
        session = self.sessions.pop(node, None)
        if session:
            session.close()
        self.ctx.liveness.disconnect(node)
