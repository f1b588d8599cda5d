"""Tunnels: one user's TCP connection to a port of a running run, carried through the coordinator and the
agent's outbound link, so a node opens no port (a workspace's tool, a dashboard: kiln run port).

A user opens `Tunnels.Open` naming the run and its port. The coordinator checks that the caller may
(the run's user, the project's owners, admins), sends OpenTunnel to the node's agent over its link, and
waits for the agent to dial back with `AgentGateway.Tunnel` naming the tunnel; then it passes frames
between the two streams through bounded queues (a slow reader slows its writer, nothing piles up). Either
side ending, or failing, ends both. Nothing of a tunnel is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from kiln.coordinator.access import require_project
from kiln.coordinator.context import Coordinator
from kiln.coordinator.rpc.interceptor import principal
from kiln.coordinator.rpc.link import AgentLink
from kiln.coordinator.runs import get_run
from kiln.coordinator.workspaces import may_use
from kiln.core import clock
from kiln.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from kiln.core.permissions import Need, Principal
from kiln.core.runs import RunState
from kiln.proto.v1 import link_pb2, tunnels_pb2_grpc

log = logging.getLogger("kiln.coordinator.tunnels")

DIAL_BACK_S = 10.0  # how long the agent has to dial back once told to open a tunnel
QUEUED_FRAMES = 64  # per direction: frames of up to 256 KiB, so at most 16 MiB in flight per tunnel
MAX_FRAME_BYTES = 256 * 1024

Frames = asyncio.Queue[link_pb2.TunnelFrame | None]


@dataclass
class _Pending:
    node: str
    run_id: str
    port: int
    dialled: asyncio.Future[tuple[Frames, Frames]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class TunnelBroker:
    """The tunnels waiting for their agent to dial back, by id."""

    def __init__(self, link: AgentLink) -> None:
        self.link = link
        self.pending: dict[str, _Pending] = {}

    def open(self, node: str, run_id: str, port: int) -> tuple[str, _Pending]:
        tunnel_id = secrets.token_hex(12)
        pending = self.pending[tunnel_id] = _Pending(node, run_id, port)
        told = link_pb2.OpenTunnel(tunnel_id=tunnel_id, run_id=run_id, port=port)
        if not self.link.send_to_node(node, link_pb2.CoordinatorMessage(open_tunnel=told)):
            del self.pending[tunnel_id]
            raise Unavailable(f"node {node} is not connected now; try again when it is (kiln nodes)")
        return tunnel_id, pending


def check_caller(ctx: Coordinator, who: Principal, run_id: str, port: int) -> tuple[str, str]:
    """(node, run id) of a run the caller may tunnel into, on a port a TCP connection can name."""
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"port {port} is not a TCP port (1-65535)")
    run = get_run(ctx, who, run_id, with_events=False)
    workspace = ctx.store.workspace_of_run(run.id)
    if workspace is not None:  # a workspace's own rule: its owner, and the project's owners once shared
        may_use(ctx, who, workspace)
    elif run.user != who.user and not who.is_admin:
        require_project(ctx.store, who, Need.MANAGE, run.spec.project)  # owners may; anyone else is refused
    if who.node:
        raise PermissionDenied("nodes open no tunnels")
    if run.state is not RunState.RUNNING or not run.node:
        raise FailedPrecondition(f"run {run.id} is {run.state}; only a running run's ports can be reached")
    return run.node, run.id


async def _pump(
    frames: AsyncIterator[link_pb2.TunnelFrame], to: Frames, traffic: dict[str, float] | None = None, run_id: str = ""
) -> None:
    """Passes a stream's frames on (each bounded), then None: the stream ended. `traffic` is told when a
    user's bytes pass, for the idle watch."""
    try:
        async for frame in frames:
            if traffic is not None:
                traffic[run_id] = clock.now()
            if len(frame.data) > MAX_FRAME_BYTES:
                await to.put(link_pb2.TunnelFrame(error=f"a frame over {MAX_FRAME_BYTES} bytes"))
                break
            await to.put(frame)
            if frame.error:
                break
    except Exception as e:  # the other side went away: the tunnel ends
        log.debug("tunnel stream ended: %s", e)
    finally:
        await to.put(None)


async def _relay(
    incoming: AsyncIterator[link_pb2.TunnelFrame],
    into: Frames,
    out: Frames,
    traffic: dict[str, float] | None = None,
    run_id: str = "",
) -> AsyncIterator[link_pb2.TunnelFrame]:
    reader = asyncio.get_running_loop().create_task(_pump(incoming, into, traffic, run_id))
    try:
        while (frame := await out.get()) is not None:
            yield frame
            if frame.error:
                break
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        with contextlib.suppress(asyncio.QueueFull):
            into.put_nowait(None)  # the other side's stream ends too


class TunnelsServicer(tunnels_pb2_grpc.TunnelsServicer):
    def __init__(self, ctx: Coordinator, broker: TunnelBroker) -> None:
        self.ctx, self.broker = ctx, broker

    async def Open(
        self, request_iterator: AsyncIterator[link_pb2.TunnelFrame], context: object
    ) -> AsyncIterator[link_pb2.TunnelFrame]:
        who = principal()
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.run_id:
            raise InvalidArgument("a tunnel's first frame names the run and its port")
        node, run_id = await asyncio.to_thread(check_caller, self.ctx, who, first.run_id, first.port)
        tunnel_id, pending = self.broker.open(node, run_id, first.port)
        try:
            to_agent, to_user = await asyncio.wait_for(pending.dialled, DIAL_BACK_S)
        except TimeoutError:
            raise Unavailable(f"node {node} did not open the tunnel within {DIAL_BACK_S:g} s; try again") from None
        finally:
            self.broker.pending.pop(tunnel_id, None)
        if first.data:
            await to_agent.put(link_pb2.TunnelFrame(data=first.data))
        self.ctx.tunnel_traffic[run_id] = clock.now()
        async for frame in _relay(request_iterator, to_agent, to_user, self.ctx.tunnel_traffic, run_id):
            yield frame


async def agent_side(
    broker: TunnelBroker, node: str, request_iterator: AsyncIterator[link_pb2.TunnelFrame]
) -> AsyncIterator[link_pb2.TunnelFrame]:
    """The agent's end (AgentGateway.Tunnel): its first frame names a tunnel this node was asked to open."""
    first = await anext(aiter(request_iterator), None)
    pending = broker.pending.get(first.tunnel_id) if first is not None else None
    if first is None or pending is None or pending.node != node or pending.dialled.done():
        raise NotFound("no tunnel of this node is waiting under that id")
    to_agent: Frames = asyncio.Queue(QUEUED_FRAMES)
    to_user: Frames = asyncio.Queue(QUEUED_FRAMES)
    pending.dialled.set_result((to_agent, to_user))
    if first.error:  # the agent could not connect to the port: the user is told why
        await to_user.put(link_pb2.TunnelFrame(error=first.error))
        await to_user.put(None)
        return
    async for frame in _relay(request_iterator, to_user, to_agent):
        yield frame
