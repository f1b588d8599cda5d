"""An agent of the previous minor version (0.1) keeps working with this coordinator.

The agent's messages are built here byte by byte, from the field numbers and types of the 0.1 wire
contract, not with the generated classes, so this test fails if a field of the agent stream is renumbered,
retyped, or made required in spirit (the coordinator refusing a message without a newer field). The
coordinator's replies are read the same way: a 0.1 agent must still find its welcome, assignment and
acks where 0.1 put them. Newer fields (the run's environment, tracking batches, dataset mounts) are
absent from these bytes, as they would be from a 0.1 agent.
"""

from __future__ import annotations

import queue
import struct
from collections.abc import Iterator

import grpc

from kiln.agent import identity
from kiln.client import CHANNEL_OPTIONS
from kiln.core.runs import RunSpec
from tests.compute.conftest import FAST
from tests.conftest import ADMIN_PASSWORD, login, start_coordinator, wait_until

# -- the protobuf wire format, just enough of it ------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def text(field: int, value: str) -> bytes:
    return nested(field, value.encode())


def nested(field: int, body: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(body)) + body


def uint(field: int, value: int) -> bytes:
    return _varint(field << 3 | 0) + _varint(value)


def sint(field: int, value: int) -> bytes:
    return uint(field, (value << 1) ^ (value >> 63))


def double(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value)


def entry(field: int, key: str, value: str) -> bytes:
    return nested(field, text(1, key) + text(2, value))


def fields(data: bytes) -> dict[int, list[object]]:
    """Top-level fields of a message: varints as ints, length-delimited as bytes."""
    found: dict[int, list[object]] = {}
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            size, i = _read_varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            size = 8 if wire == 1 else 4
            value, i = data[i : i + size], i + size
        found.setdefault(number, []).append(value)
    return found


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[i]
        result |= (byte & 0x7F) << shift
        shift, i = shift + 7, i + 1
        if not byte & 0x80:
            return result, i


# -- kiln.v1 as of 0.1 --------------------------------------------------------------------------------------

INVENTORY_0_1 = double(1, 4.0) + uint(2, 8 * 1024**3) + uint(3, 100 * 1024**3)  # cpus, memory, disk


def hello_0_1(name: str) -> bytes:
    """AgentMessage{hello: Hello{version, runtimes, inventory, labels, name}}."""
    hello = text(1, "0.1.0") + entry(2, "process", "process 0.1") + nested(3, INVENTORY_0_1)
    hello += entry(4, "zone", "old") + text(6, name)
    return nested(2, hello)


def heartbeat_0_1() -> bytes:
    return nested(3, nested(1, INVENTORY_0_1))


def run_update_0_1(seq: int, run_id: str, attempt: int, state: str, exit_code: int | None = None) -> bytes:
    """AgentMessage{seq, run_update: RunUpdate{run_id, attempt, state, has_exit_code, exit_code, reason}}."""
    body = text(1, run_id) + uint(2, attempt) + text(3, state)
    if exit_code is not None:
        body += uint(4, 1) + sint(5, exit_code)
    return uint(1, seq) + nested(4, body)


def test_an_agent_speaking_0_1_enrols_connects_and_runs(tmp_path):
    rc = start_coordinator(tmp_path / "coordinator", **FAST)
    admin = login(rc, "admin", ADMIN_PASSWORD)
    outbox: queue.Queue[bytes | None] = queue.Queue()
    channel = None
    try:
        admin.create_project("p")
        ident = identity.enroll(tmp_path / "old", rc.address, admin.create_join_token().token, "old-agent", {})
        creds = grpc.ssl_channel_credentials(ident.ca_pem, ident.key_pem, ident.cert_pem)
        channel = grpc.secure_channel(ident.agent_address(rc.agent_port), creds, options=CHANNEL_OPTIONS)
        connect = channel.stream_stream(
            "/kiln.v1.AgentGateway/Connect", request_serializer=lambda b: b, response_deserializer=lambda b: b
        )

        def requests() -> Iterator[bytes]:
            while (message := outbox.get()) is not None:
                yield message

        replies = connect(requests())
        outbox.put(hello_0_1("old-agent"))
        welcome = fields(next(replies))
        assert fields(welcome[1][0])[1] == [b"old-agent"]  # CoordinatorMessage.welcome.node
        outbox.put(heartbeat_0_1())
        node = wait_until(lambda: next((n for n in admin.list_nodes() if n.state == "ready"), None), 10, "ready")
        assert (node.name, node.version, node.labels, node.inventory.cpus) == ("old-agent", "0.1.0", {"zone": "old"}, 4)

        run = admin.submit_run(RunSpec("p", ("sh", "-c", "echo hi"), runtime="process"))
        assign = fields(fields(next(replies))[2][0])  # CoordinatorMessage.assign
        assert assign[1] == [run.id.encode()] and assign[4] == [b"process"] and 3 in assign
        attempt = int(assign[2][0])
        outbox.put(run_update_0_1(1, run.id, attempt, "running"))
        outbox.put(run_update_0_1(2, run.id, attempt, "succeeded", exit_code=0))
        acks = [fields(fields(next(replies))[5][0])[1][0] for _ in range(2)]  # CoordinatorMessage.ack.seq
        assert acks == [1, 2]
        done = admin.get_run(run.id)
        assert (str(done.state), done.exit_code, done.node) == ("succeeded", 0, "old-agent")
    finally:
        outbox.put(None)
        if channel is not None:
            channel.close()
        admin.close()
        rc.stop()
