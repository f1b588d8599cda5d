"""The agent daemon: enrols once, then holds one stream to the coordinator (dialling out, reconnecting with
backoff and jitter), reports what it has and runs, and runs what it is assigned."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

import kiln
from kiln import serde
from kiln.agent import identity, inventory
from kiln.agent.jobs import Job, Node
from kiln.agent.metrics import AgentExporter  # [ops]
from kiln.agent.runtimes import Runtime, available_runtimes, get_runtime
from kiln.agent.spool import Spool
from kiln.agent.workspace import BlobCache
from kiln.client import Client
from kiln.core import backoff
from kiln.core.errors import FailedPrecondition, KilnError, PermissionDenied, Unauthenticated
from kiln.proto.v1 import nodes_pb2

log = logging.getLogger("kiln.agent")

LOG_FLUSH_S = 0.2


@dataclass(frozen=True)
class AgentConfig:
    coordinator: str  # HOST:PORT of the coordinator (its user port)
    data: Path
    join_token: str = ""
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtimes: tuple[str, ...] = ()  # (): every runtime that works here
    inventory_file: Path | None = None
    metrics_listen: str = ""  # HOST:PORT of the Prometheus /metrics endpoint ("": none)  [ops]


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        config.data.mkdir(parents=True, exist_ok=True)
        self.identity = identity.load_or_enroll(
            config.data, config.coordinator, config.join_token, config.name, config.labels
        )
        self.runtimes = _runtimes(config)
        self.spool = Spool(config.data / "agent.db")
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.drained = False
        self.heartbeat_s = 5.0
        self.agent_port = 0
        self.jobs: dict[tuple[str, int], Job] = {}
        self.node = Node(
            self.identity.name,
            config.data,
            self.spool,
            BlobCache(config.data / "cache"),
            self.runtimes,
            self._client,
            self.stopping,
        )
        self.metrics = AgentExporter(self, config.metrics_listen) if config.metrics_listen else None  # [ops]

    @property
    def name(self) -> str:
        return self.identity.name

    def _client(self) -> Client:
        if not self.agent_port:
            with self.identity.anonymous() as anonymous:
                self.agent_port = anonymous.server_info().agent_port
        return self.identity.client(self.agent_port)

    # -- running ----------------------------------------------------------------------------------------

    def run(self) -> None:
        """Runs until `stop()`; raises if the coordinator refuses this node (removed, wrong certificate)."""
        self._resume_jobs()
        threading.Thread(target=self._flush_logs_forever, name="kiln-log-flusher", daemon=True).start()
        delays = backoff.delays()
        while not self.stopping.is_set():
            try:
                self._session()
                delays = backoff.delays()
            except (Unauthenticated, PermissionDenied):
                raise
            except (KilnError, grpc.RpcError) as e:
                refused = _refusal(e)
                if refused:
                    raise refused from None
                log.warning("coordinator unreachable (%s); retrying", _describe(e))
            self.connected.clear()
            self.stopping.wait(next(delays))

    def stop(self) -> None:
        self.stopping.set()
        self.spool.wake()
        if self.metrics is not None:  # [ops]
            self.metrics.stop()

    def _resume_jobs(self) -> None:
        for record in self.spool.jobs():
            if record.final_seq:
                continue  # finished; its final report waits in the spool for an acknowledgement
            assignment = nodes_pb2.Assignment.FromString(record.assignment)
            job = Job(self.node, assignment)
            self.jobs[(job.run_id, job.attempt)] = job
            job.resume(record)

    def _flush_logs_forever(self) -> None:
        while not self.stopping.wait(LOG_FLUSH_S):
            for job in list(self.jobs.values()):
                job.flush_logs()

    # -- the stream -------------------------------------------------------------------------------------

    def _session(self) -> None:
        self.agent_port = 0
        client = self._client()
        closed = threading.Event()
        try:
            responses = client.gateway.Connect(self._requests(closed))
            for message in responses:
                self.connected.set()
                self._on_message(message)
                if self.stopping.is_set():
                    responses.cancel()
        finally:
            closed.set()
            self.spool.wake()
            client.close()

    def _requests(self, closed: threading.Event) -> Iterator[nodes_pb2.AgentMessage]:
        yield nodes_pb2.AgentMessage(hello=self._hello())
        sent = 0
        while not closed.is_set() and not self.stopping.is_set():
            batch = self.spool.pending(sent)
            for seq, payload in batch:
                message = nodes_pb2.AgentMessage.FromString(payload)
                message.seq = seq
                sent = seq
                yield message
            if not batch:
                self.spool.wait_for_more(sent, self.heartbeat_s)
                if not self.spool.pending(sent, 1):
                    yield nodes_pb2.AgentMessage(heartbeat=nodes_pb2.Heartbeat(inventory=self._inventory()))

    def _hello(self) -> nodes_pb2.Hello:
        held = [nodes_pb2.HeldRun(run_id=j.run_id, attempt=j.attempt, state=j.state) for j in self.spool.jobs()]
        return nodes_pb2.Hello(
            version=kiln.__version__,
            runtimes={n: r.probe() for n, r in self.runtimes.items()},
            inventory=self._inventory(),
            labels=self.config.labels,
            runs=held,
            name=self.name,
        )

    def _inventory(self) -> nodes_pb2.Inventory:
        return serde.inventory_to_proto(inventory.collect(self.config.data, self.config.inventory_file))

    def _on_message(self, message: nodes_pb2.CoordinatorMessage) -> None:
        kind = message.WhichOneof("body")
        if kind == "ack":
            for key in self.spool.ack(message.ack.seq):
                self.jobs.pop(key, None)
        elif kind == "assign":
            self._assign(message.assign)
        elif kind == "cancel":
            job = self.jobs.get((message.cancel.run_id, message.cancel.attempt))
            if job is not None:
                job.cancel(message.cancel.grace_s or 10.0)
        elif kind == "welcome":
            self.heartbeat_s = message.welcome.heartbeat_interval_s or self.heartbeat_s
            self.drained = message.welcome.drained
        elif kind == "drain":
            self.drained = message.drain.drain

    def _assign(self, assignment: nodes_pb2.Assignment) -> None:
        key = (assignment.run_id, assignment.attempt)
        if assignment.runtime not in self.runtimes:
            log.error("assigned run %s for runtime %s, which this node lacks", assignment.run_id, assignment.runtime)
        if not self.spool.add_job(*key, assignment.SerializeToString()) or key in self.jobs:
            return  # an assignment sent again after a reconnection
        job = Job(self.node, assignment)
        self.jobs[key] = job
        job.begin()


def _runtimes(config: AgentConfig) -> dict[str, Runtime]:
    wanted = config.runtimes or tuple(available_runtimes())
    found: dict[str, Runtime] = {}
    for name in wanted:
        cls = get_runtime(name)
        cls.probe()  # raises RuntimeUnavailable with the reason
        found[name] = cls(config.data / "runtimes" / name)
    if not found:
        raise FailedPrecondition("no runtime can run here (no Docker engine, and process was not allowed)")
    return found


def _refusal(error: Exception) -> Exception | None:
    if isinstance(error, grpc.RpcError) and error.code() in (
        grpc.StatusCode.UNAUTHENTICATED,  # type: ignore[attr-defined]
        grpc.StatusCode.PERMISSION_DENIED,
    ):
        return PermissionDenied(f"the coordinator refused this node: {error.details()}")  # type: ignore[attr-defined]
    return None


def _describe(error: Exception) -> str:
    if isinstance(error, grpc.RpcError):
        return f"{error.code().name}: {error.details()}"  # type: ignore[attr-defined]
    return str(error)
