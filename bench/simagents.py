"""Simulated agents for the scale benchmark: many real node identities, each holding a real mutual-TLS
stream to the coordinator, heartbeating, and finishing at once every run it is given."""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import time
from multiprocessing.connection import Connection

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiln.client import Client
from kiln.core import defaults
from kiln.proto.v1 import link_pb2, link_pb2_grpc, nodes_pb2

INVENTORY = nodes_pb2.Inventory(cpus=64, memory_bytes=256 << 30, disk_bytes=1 << 40)


def enroll(address: str, ca_pem: bytes, token: str, name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    with Client(address, ca_pem) as c:
        cert = c.enroll(token, name, csr.public_bytes(serialization.Encoding.PEM), {}).certificate_pem
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ), cert


async def one_agent(
    name: str, key: bytes, cert: bytes, ca: bytes, address: str, interval: float, counters: dict[str, int]
) -> None:
    creds = grpc.ssl_channel_credentials(ca, key, cert)
    options = [("grpc.ssl_target_name_override", defaults.TLS_SERVER_NAME)]
    async with grpc.aio.secure_channel(address, creds, options=options) as channel:
        stub = link_pb2_grpc.AgentGatewayStub(channel)
        outbox: asyncio.Queue[link_pb2.AgentMessage] = asyncio.Queue()
        seq = itertools.count(1)

        async def requests():  # type: ignore[no-untyped-def]
            yield link_pb2.AgentMessage(
                hello=link_pb2.Hello(name=name, version="sim", inventory=INVENTORY, runtimes={"process": "simulated"})
            )
            while True:
                yield await outbox.get()

        async def heartbeats() -> None:
            await asyncio.sleep(random.uniform(0, interval))
            while True:
                await outbox.put(link_pb2.AgentMessage(heartbeat=link_pb2.Heartbeat(inventory=INVENTORY)))
                counters["heartbeats"] += 1
                await asyncio.sleep(interval)

        beat = asyncio.get_running_loop().create_task(heartbeats())
        try:
            async for message in stub.Connect(requests()):
                if message.WhichOneof("body") == "assign":
                    a = message.assign
                    for state in ("running", "succeeded"):
                        update = link_pb2.RunUpdate(
                            run_id=a.run_id,
                            attempt=a.attempt,
                            state=state,
                            time=time.time(),
                            has_exit_code=state == "succeeded",
                        )
                        await outbox.put(link_pb2.AgentMessage(seq=next(seq), run_update=update))
                    counters["runs"] += 1
                elif message.WhichOneof("body") == "welcome":
                    counters["connected"] += 1
        finally:
            beat.cancel()


async def run_many(
    identities: list[tuple[str, bytes, bytes]], ca: bytes, address: str, interval: float, pipe: Connection
) -> None:
    counters = {"heartbeats": 0, "runs": 0, "connected": 0}
    tasks = [
        asyncio.get_running_loop().create_task(one_agent(n, k, c, ca, address, interval, counters))
        for n, k, c in identities
    ]
    while True:
        await asyncio.sleep(0.5)
        pipe.send(dict(counters))
        if pipe.poll() and pipe.recv() == "stop":
            break
        if any(t.done() and t.exception() for t in tasks):
            print([t.exception() for t in tasks if t.done()][:3], file=sys.stderr)
            break
    for t in tasks:
        t.cancel()


def worker(
    identities: list[tuple[str, bytes, bytes]], ca: bytes, address: str, interval: float, pipe: Connection
) -> None:
    asyncio.run(run_many(identities, ca, address, interval, pipe))
