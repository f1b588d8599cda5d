"""link.proto: the coordinator's end of every agent's stream (and enrolment). The one module of the
coordinator where the agent link meets gRPC: it decodes what agents send into `kiln.core.link` values,
hands each event to the dispatcher on the dispatch lane, and carries out the commands it returns.

On the event loop only this happens: a message is read, its node is marked as heard from (so a busy
store never makes a healthy node look silent), and replies are queued. Decisions run off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import grpc
from google.protobuf import text_format

from kiln.coordinator import nodes
from kiln.coordinator.context import Coordinator
from kiln.coordinator.dispatch import (
    INVENTORY_PERSIST_S,
    QUARANTINE_TEXT,
    Changed,
    Close,
    Connected,
    Disconnected,
    Dispatcher,
    DrainSet,
    Event,
    NodeRemoved,
    Received,
    Send,
    Tick,
    Unreadable,
    Wake,
    describe_error,
)
from kiln.coordinator.rpc.interceptor import principal, source
from kiln.coordinator.rpc.workers import Workers
from kiln.core import clock
from kiln.core.errors import InvalidArgument, PermissionDenied
from kiln.core.link import BadMessage, Hello
from kiln.proto.v1 import link_pb2, link_pb2_grpc
from kiln.serde import link as wire
from kiln.serde import nodes as nodes_wire

if TYPE_CHECKING:
    from kiln.coordinator.rpc.tunnels import TunnelBroker

log = logging.getLogger("kiln.coordinator.link")
Ctx: TypeAlias = grpc.aio.ServicerContext

TICK_S = 1.0
MIN_TICK_S = 0.01  # a burst of submissions is placed in one pass
BATCH = 256  # events decided per trip to the dispatch lane, at most

Outbox: TypeAlias = "asyncio.Queue[link_pb2.CoordinatorMessage | None]"


@dataclass
class Stream:
    """One agent's open stream: what to send it (None ends it)."""

    node: str
    id: int
    outbox: Outbox = field(default_factory=asyncio.Queue)
    closed: bool = False
    persisted_at: float = field(default_factory=clock.now)  # when a heartbeat last went to the dispatcher


@dataclass(frozen=True)
class _Encoded:
    """A `Send` with its message already encoded (on the dispatch lane, not the loop)."""

    stream: int
    message: link_pb2.CoordinatorMessage


Decided = _Encoded | Close | Changed | Wake


class AgentLink:
    """Every agent's stream, the dispatcher behind them (on its own lane), the dispatch tick, and the
    followers waiting for runs or logs to change."""

    def __init__(self, ctx: Coordinator, workers: Workers) -> None:
        self.ctx = ctx
        self.workers = workers
        self.dispatcher = Dispatcher(ctx)
        self.streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._background: set[asyncio.Task[None]] = set()
        self._events: asyncio.Queue[tuple[Event, asyncio.Future[list[Decided]]]] = asyncio.Queue()

    # -- events and commands ----------------------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        """Decides on the dispatch lane (encoding the replies there too), then carries out the commands.
        Events wait their turn in one queue: the dispatcher takes them in order, many per trip to its
        thread, so a busy link costs one hand-over per batch rather than one per message."""
        decided: asyncio.Future[list[Decided]] = self._loop.create_future()
        self._events.put_nowait((event, decided))
        for command in await decided:
            match command:
                case _Encoded(stream=stream_id, message=message) if stream_id in self.streams:
                    self.streams[stream_id].outbox.put_nowait(message)
                case Close(session=stream_id) if stream_id in self.streams:
                    self.streams[stream_id].closed = True
                    self.streams[stream_id].outbox.put_nowait(None)
                case Changed():
                    self._notify()
                case Wake():
                    self.wake()

    async def _dispatch_forever(self) -> None:
        while True:
            batch = [await self._events.get()]
            while len(batch) < BATCH and not self._events.empty():
                batch.append(self._events.get_nowait())
            outcomes = await self.workers.run("dispatch", self._decide_all, [event for event, _ in batch])
            for (_, decided), outcome in zip(batch, outcomes, strict=True):
                if decided.cancelled():
                    continue
                if isinstance(outcome, BaseException):
                    decided.set_exception(outcome)
                else:
                    decided.set_result(outcome)

    def _decide_all(self, events: list[Event]) -> list[list[Decided] | BaseException]:
        outcomes: list[list[Decided] | BaseException] = []
        for event in events:
            try:
                outcomes.append(self._decide(event))
            except Exception as e:  # this event's caller hears of it; the others go on
                outcomes.append(e)
        return outcomes

    def _decide(self, event: Event) -> list[Decided]:
        decided: list[Decided] = []
        for command in self.dispatcher.handle(event, clock.now()):
            if isinstance(command, Send):
                decided.append(_Encoded(command.session, wire.coordinator_message_to_proto(command.message)))
            elif command not in decided:  # Changed, Wake: once is enough
                decided.append(command)
        return decided

    async def settle(self, timeout: float = 10.0) -> None:
        """Waits for the events handed over in the background (e.g. the disconnects of ended streams)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    def later(self, event: Event) -> None:
        """Handles `event` in the background (for clean-up that must not be awaited where it starts)."""
        task = self._loop.create_task(self.handle(event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- the tick and the followers ---------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def wake_threadsafe(self) -> None:
        """`wake()` from a worker thread."""
        self._loop.call_soon_threadsafe(self._wake.set)

    async def run_forever(self) -> None:
        """The dispatcher's turn-taking and the tick, until cancelled."""
        await asyncio.gather(self._dispatch_forever(), self._tick_forever())

    async def _tick_forever(self) -> None:
        """Ticks when woken, at once if the last tick was MIN_TICK_S ago (a lone submission is placed
        without waiting), else once that much has passed (a burst is placed in few passes)."""
        last = -MIN_TICK_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._until_next_tick())
            since = self._loop.time() - last
            if since < MIN_TICK_S:
                await asyncio.sleep(MIN_TICK_S - since)
            self._wake.clear()
            last = self._loop.time()
            try:
                await self.handle(Tick())
            except Exception:
                log.exception("dispatch tick failed")

    def _until_next_tick(self) -> float:
        """TICK_S, or less when a schedule fires sooner: a fire starts at its time, not up to a tick late."""
        fire = self.dispatcher.next_schedule_fire
        if fire is None:
            return TICK_S
        return min(TICK_S, max(MIN_TICK_S, fire - clock.now()))

    async def changed(self, timeout: float) -> None:
        """Waits until a run changes or logs arrive (or `timeout`): followers read the store after it."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        task = self._loop.create_task(notify())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- admin actions ----------------------------------------------------------------------------------

    async def set_drain(self, node: str, drain: bool) -> None:
        await self.handle(DrainSet(node, drain))
        self.wake()

    async def drop(self, node: str) -> None:
        await self.handle(NodeRemoved(node))

    # -- streams ----------------------------------------------------------------------------------------

    def save_folder(self, node: str, run_id: str, attempt: int, request_id: str, message: str) -> bool:
        """Asks `node` to snapshot a workspace run's folder (coordinator/workspaces.py), from any thread."""
        save = link_pb2.SaveFolder(run_id=run_id, attempt=attempt, request_id=request_id, message=message)
        return self.send_to_node(node, link_pb2.CoordinatorMessage(save_folder=save))

    def send_to_node(self, node: str, message: link_pb2.CoordinatorMessage) -> bool:
        """Queues a message on `node`'s open stream, from any thread; False when the node is not connected."""
        stream = next((s for s in list(self.streams.values()) if s.node == node and not s.closed), None)
        if stream is None:
            return False
        self._loop.call_soon_threadsafe(stream.outbox.put_nowait, message)
        return True

    def open(self, node: str) -> Stream:
        stream = Stream(node, next(self._ids))
        self.streams[stream.id] = stream
        return stream

    def forget(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)
        self.later(Disconnected(stream.node, stream.id))

    async def read(self, stream: Stream, messages: AsyncIterator[link_pb2.AgentMessage]) -> None:
        """Hands every report of one stream to the dispatcher, in order, until the stream ends or the
        dispatcher closes it. A heartbeat only marks the node alive (here, at once), and goes on to the
        dispatcher only when its inventory is due to be written down."""
        async for m in messages:
            now = clock.now()
            if m.WhichOneof("body") == "heartbeat":
                self.ctx.liveness.seen(stream.node, now, nodes_wire.inventory_from_proto(m.heartbeat.inventory))
                if now - stream.persisted_at < INVENTORY_PERSIST_S:
                    continue
                stream.persisted_at = now
            else:
                self.ctx.liveness.seen(stream.node, now)
            await self.handle(_event(stream, m))
            if stream.closed:
                return


def _event(stream: Stream, m: link_pb2.AgentMessage) -> Event:
    try:
        decoded = wire.sequenced_from_proto(m)
    except BadMessage as e:
        text = text_format.MessageToString(m, as_one_line=True)[:QUARANTINE_TEXT]
        return Unreadable(stream.node, stream.id, m.seq, wire.message_kind(m), text, describe_error(e))
    if isinstance(decoded, Hello):
        return Unreadable(stream.node, stream.id, m.seq, "hello", "", "a second hello on an open stream")
    return Received(stream.node, stream.id, decoded)


class AgentGatewayServicer(link_pb2_grpc.AgentGatewayServicer):
    def __init__(self, ctx: Coordinator, link: AgentLink, agent_port: int, tunnels: TunnelBroker | None = None) -> None:
        self.ctx, self.link, self.agent_port, self.tunnels = ctx, link, agent_port, tunnels

    async def Tunnel(
        self, request_iterator: AsyncIterator[link_pb2.TunnelFrame], context: Ctx
    ) -> AsyncIterator[link_pb2.TunnelFrame]:
        from kiln.coordinator.rpc.tunnels import agent_side

        who = principal()
        if not who.node or self.tunnels is None:
            raise PermissionDenied("only agents, with their node certificate on the agent port, dial tunnels back")
        async for frame in agent_side(self.tunnels, who.node, request_iterator):
            yield frame

    def Enroll(self, request: link_pb2.EnrollRequest, context: Ctx) -> link_pb2.EnrollReply:
        found = nodes.enroll(
            self.ctx, request.join_token, request.name, request.csr_pem, dict(request.labels), self.agent_port
        )
        return wire.node_certificate_to_proto(found)

    async def Connect(
        self, request_iterator: AsyncIterator[link_pb2.AgentMessage], context: Ctx
    ) -> AsyncIterator[link_pb2.CoordinatorMessage]:
        who = principal()
        if not who.node:
            raise PermissionDenied("only agents, with their node certificate on the agent port, may connect here")
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("body") != "hello":
            raise InvalidArgument("an agent's first message must be its hello")
        try:
            hello = wire.hello_from_proto(first.hello)
        except BadMessage as e:
            log.error("refused the hello of node %s: %s", who.node, e)
            raise
        stream = self.link.open(who.node)
        try:
            await self.link.handle(Connected(who.node, stream.id, hello, source()))
        except BaseException:
            self.link.forget(stream)
            raise
        reader = asyncio.get_running_loop().create_task(self._read(stream, request_iterator))
        try:
            while (message := await stream.outbox.get()) is not None:
                yield message
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self.link.forget(stream)

    async def _read(self, stream: Stream, messages: AsyncIterator[link_pb2.AgentMessage]) -> None:
        try:
            await self.link.read(stream, messages)
        except asyncio.CancelledError:
            raise
        except grpc.RpcError as e:  # the agent went away, or the server is stopping
            log.info("agent %s stream ended: %s", stream.node, e)
        except Exception:
            log.exception("agent %s stream failed", stream.node)
        finally:
            stream.outbox.put_nowait(None)
