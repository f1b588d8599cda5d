"""The agent's end of the link: the one agent module where the link meets gRPC and the wire.

It opens the stream on a client's channel, encodes what the agent sends (its hello, heartbeats, and the
reports waiting in the spool, which it also writes down for the spool: `WireCodec`), decodes what the
coordinator sends into `kiln.core.link` values, and turns the stream's failures into domain errors: a
refusal (this node removed, a wrong certificate) stops the agent; anything else is an outage to wait out.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
from collections.abc import Iterator

import grpc

from kiln.agent.spool import Report
from kiln.client import Client
from kiln.client.tunnels import carry
from kiln.core.errors import FailedPrecondition, KilnError, PermissionDenied
from kiln.core.link import ALREADY_CONNECTED, AgentMessage, Assignment, BadMessage, CoordinatorMessage
from kiln.proto.v1 import link_pb2, link_pb2_grpc
from kiln.serde import link as wire

log = logging.getLogger("kiln.agent.link")

TUNNEL_HOST = "127.0.0.1"  # where a tunnelled run's port is dialled: loopback, so nothing else can reach it
TUNNEL_READ_BYTES = 256 * 1024  # one frame at most
REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class WireCodec:
    """Reports and assignments are kept in the spool as their wire messages: a report is sent as it was
    written (only its sequence number is added), and a spool written by the previous version reads back."""

    def encode_report(self, report: Report) -> bytes:
        return wire.agent_message_to_proto(report).SerializeToString()

    def encode_assignment(self, assignment: Assignment) -> bytes:
        return wire.assignment_to_proto(assignment).SerializeToString()

    def decode_assignment(self, data: bytes) -> Assignment:
        return wire.assignment_from_proto(link_pb2.Assignment.FromString(data))


# What the agent sends: a message, or a spooled report as (seq, what the codec wrote).
Outgoing = AgentMessage | tuple[int, bytes]


class Stream:
    """One connection's stream: iterate it for what the coordinator sends; `cancel()` ends it."""

    def __init__(self, client: Client, outgoing: Iterator[Outgoing]) -> None:
        self.client = client
        stub = link_pb2_grpc.AgentGatewayStub(client.channel)
        self._responses = stub.Connect(_encoded(outgoing))

    def __iter__(self) -> Iterator[CoordinatorMessage]:
        try:
            for m in self._responses:
                try:
                    yield wire.coordinator_message_from_proto(m)
                except BadMessage:
                    log.error("ignoring a message from the coordinator this agent cannot read", exc_info=True)
        except grpc.RpcError as e:
            raise link_error(self.client, e) from None

    def cancel(self) -> None:
        self._responses.cancel()


def _encoded(outgoing: Iterator[Outgoing]) -> Iterator[link_pb2.AgentMessage]:
    for item in outgoing:
        if isinstance(item, tuple):
            seq, payload = item
            message = link_pb2.AgentMessage.FromString(payload)
            message.seq = seq
            yield message
        else:
            yield wire.agent_message_to_proto(item)


def serve_tunnel(client: Client, tunnel_id: str, port: int, refused: str = "") -> None:
    """One tunnelled connection (on a thread of its own): dials `port` of this node's loopback, where a
    run on the host network listens, and carries its bytes on a Tunnel stream the agent opens to the
    coordinator (outbound, like the link). `refused`: why this node will not open it, told instead."""
    stub = link_pb2_grpc.AgentGatewayStub(client.channel)
    error = refused
    sock = None
    if not error:
        try:
            sock = socket.create_connection((TUNNEL_HOST, port), timeout=5)
            sock.settimeout(None)
        except OSError as e:
            error = f"nothing accepts connections on port {port} of the run ({e.strerror or e})"
    if sock is None:  # the coordinator is told why, and the user from it
        with contextlib.suppress(grpc.RpcError):
            for _ in stub.Tunnel(iter([link_pb2.TunnelFrame(tunnel_id=tunnel_id, error=error)])):
                pass
        return

    def exchange(outgoing: Iterator[bytes]) -> Iterator[bytes]:
        first = [link_pb2.TunnelFrame(tunnel_id=tunnel_id)]
        responses = stub.Tunnel(itertools.chain(first, (link_pb2.TunnelFrame(data=d) for d in outgoing)))
        try:
            for frame in responses:
                if frame.error:
                    return
                yield frame.data
        finally:
            responses.cancel()

    try:
        carry(sock, exchange, TUNNEL_READ_BYTES)
    except grpc.RpcError as e:
        log.debug("tunnel %s ended: %s", tunnel_id, e)


def link_error(client: Client, error: grpc.RpcError) -> KilnError:
    """PermissionDenied when the coordinator refuses this node (it must not keep knocking); otherwise the
    error as the client words it, to wait out and reconnect. A refusal because this node's identity is
    already connected is waited out too: it may be this very host, restarted before the coordinator saw
    its old stream die (it is let in once that stream has been silent past the heartbeat timeout)."""
    details = error.details() or ""
    if error.code() == grpc.StatusCode.PERMISSION_DENIED and ALREADY_CONNECTED in details:
        return FailedPrecondition(f"the coordinator refused this connection: {details}")
    if error.code() in REFUSALS:
        return PermissionDenied(f"the coordinator refused this node: {details}")
    return client.error(error)
