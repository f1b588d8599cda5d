"""The agent daemon: enrols once, then holds one stream to the coordinator (dialling out, reconnecting with
backoff and jitter), reports what it has and runs, and runs what it is assigned. It works on
`kiln.core.link` values; the stream itself is the link module's."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kiln
from kiln.agent import identity, images, inventory, link
from kiln.agent.environments import EnvCache
from kiln.agent.jobs import Job, JobContext
from kiln.agent.liveness import Probe
from kiln.agent.metrics import AgentExporter  # [ops]
from kiln.agent.runtimes import Runtime, available_runtimes, get_runtime
from kiln.agent.spool import Spool
from kiln.agent.workspace import BlobCache
from kiln.client import Client
from kiln.core import backoff, defaults
from kiln.core.errors import FailedPrecondition, InvalidArgument, KilnError, PermissionDenied, Unauthenticated
from kiln.core.link import (
    Ack,
    Assignment,
    Cancel,
    CoordinatorMessage,
    Drain,
    Heartbeat,
    HeldRun,
    Hello,
    OpenTunnel,
    SaveFolder,
    Welcome,
)
from kiln.core.models import Inventory
from kiln.sync.locks import IndexSettings

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
    max_output_bytes: int | None = defaults.MAX_OUTPUT_BYTES  # what a run may create or change (None: no cap)
    env_cache_bytes: int = defaults.ENV_CACHE_BYTES  # built environments kept on the node, least recently used out
    index: IndexSettings = IndexSettings()  # where this node's environment builds find packages
    serve_host: str = defaults.SERVE_HOST  # where model replicas listen: the address the gateway reaches us at
    liveness_probe: Probe = field(default_factory=Probe)  # how the model replicas it starts are probed


def check_serve_host(host: str) -> str:
    """The address replicas listen on must be one a gateway can dial: not "all interfaces", which a replica
    would report as its address."""
    if host.strip() in ("", "0.0.0.0", "::", "[::]"):
        raise InvalidArgument(
            f"--serve-host {host!r}: give the address gateways reach this node at (its LAN address, or 127.0.0.1 "
            "when the gateway runs on this machine), not every interface"
        )
    return host.strip().strip("[]")


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        config.data.mkdir(parents=True, exist_ok=True)
        _keep_private(config.data)
        self.identity = identity.load_or_enroll(
            config.data, config.coordinator, config.join_token, config.name, config.labels
        )
        self.runtimes = _runtimes(config)
        self.spool = Spool(config.data / "agent.db", link.WireCodec())
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.drained = False
        self.heartbeat_s = 5.0
        self.agent_port = 0
        # Told in every hello: a reconnection with it is this agent coming back, not a copy of its identity
        # (which lives on disk, and is copied with a cloned machine; this id lives only in this process).
        self.instance = secrets.token_hex(16)
        self.jobs: dict[tuple[str, int], Job] = {}
        self._link_client: Client | None = None
        self.context = JobContext(
            self.identity.name,
            config.data,
            self.spool,
            BlobCache(config.data / "cache"),
            self.runtimes,
            self._client,
            self.stopping,
            EnvCache(config.data / "envs", config.env_cache_bytes),
            config.index,
            config.max_output_bytes,
            check_serve_host(config.serve_host),
            self.identity.ca_pem,
            config.liveness_probe,
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
            except KilnError as e:
                log.warning("no link to the coordinator (%s); reconnecting", e)
            self.connected.clear()
            self.stopping.wait(next(delays))

    def stop(self) -> None:
        self.stopping.set()
        self.spool.wake()
        if self.metrics is not None:  # [ops]
            self.metrics.stop()

    def _resume_jobs(self) -> None:
        docker = self.runtimes.get("docker")
        if docker is not None:  # what describing an image left when this agent was killed mid-way
            with contextlib.suppress(Exception):  # an engine not answering yet: its runs will say so
                if left := images.remove_describers(docker.client(), self.name):  # type: ignore[attr-defined]
                    log.info("removed %d describing container(s) left by an earlier run of this agent", left)
        for record in self.spool.jobs():
            if record.final_seq:
                continue  # finished; its final report waits in the spool for an acknowledgement
            job = Job(self.context, record.assignment)
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
        self._link_client = client  # the tunnels' streams share its channel
        closed = threading.Event()
        try:
            stream = link.Stream(client, self._outgoing(closed))
            for message in stream:
                self.connected.set()
                self._on_message(message)
                if self.stopping.is_set():
                    stream.cancel()
        finally:
            closed.set()
            self.spool.wake()
            client.close()

    def _outgoing(self, closed: threading.Event) -> Iterator[link.Outgoing]:
        yield self._hello()
        sent = 0
        while not closed.is_set() and not self.stopping.is_set():
            batch = self.spool.pending(sent)
            for seq, payload in batch:
                sent = seq
                yield seq, payload
            if not batch:
                self.spool.wait_for_more(sent, self.heartbeat_s)
                if not self.spool.pending(sent, 1):
                    yield Heartbeat(self._inventory())

    def _hello(self) -> Hello:
        return Hello(
            name=self.name,
            version=kiln.__version__,
            runtimes={n: r.probe() for n, r in self.runtimes.items()},
            inventory=self._inventory(),
            labels=self.config.labels,
            runs=tuple(HeldRun(run_id=j.run_id, attempt=j.attempt, state=j.state) for j in self.spool.jobs()),
            instance=self.instance,
        )

    def _inventory(self) -> Inventory:
        found = inventory.collect(self.config.data, self.config.inventory_file)
        return dataclasses.replace(found, environments=tuple(self.context.envs.held()))

    def _on_message(self, message: CoordinatorMessage) -> None:
        match message:
            case Ack(seq=seq):
                for key in self.spool.ack(seq):
                    self.jobs.pop(key, None)
            case Assignment():
                self._assign(message)
            case Cancel(run_id=run_id, attempt=attempt, grace_s=grace_s):
                job = self.jobs.get((run_id, attempt))
                if job is not None:
                    job.cancel(grace_s or 10.0)
            case Welcome(heartbeat_interval_s=interval, drained=drained):
                self.heartbeat_s = interval or self.heartbeat_s
                self.drained = drained
            case Drain(drain=drain):
                self.drained = drain
            case SaveFolder(run_id=run_id, attempt=attempt, request_id=request_id, message=text):
                job = self.jobs.get((run_id, attempt))
                if job is not None and not job.ended.is_set():
                    threading.Thread(target=job.save_folder, args=(request_id, text), daemon=True).start()
            case OpenTunnel(tunnel_id=tunnel_id, run_id=run_id, port=port):
                held = any(j.run_id == run_id and not j.ended.is_set() for j in self.jobs.values())
                refused = "" if held else f"run {run_id} is not running on node {self.name}"
                client = self._link_client
                if client is not None:
                    threading.Thread(
                        target=link.serve_tunnel, args=(client, tunnel_id, port, refused), daemon=True
                    ).start()

    def _assign(self, assignment: Assignment) -> None:
        key = (assignment.run_id, assignment.attempt)
        if assignment.runtime not in self.runtimes:
            log.error("assigned run %s for runtime %s, which this node lacks", assignment.run_id, assignment.runtime)
        if not self.spool.add_job(assignment) or key in self.jobs:
            return  # an assignment sent again after a reconnection
        job = Job(self.context, assignment)
        self.jobs[key] = job
        job.begin()


def _keep_private(data: Path) -> None:
    """The data folder is the agent's alone (its key, spool, cache and every run's folder): 0700. Jobs reach
    their own parts of it through their mounts and, as root, the private view each one gets (runtimes/).
    A root agent's jobs run as users of their own, so what the agent makes for them to read (datasets, the
    SDK) must be readable by others, whatever umask the service was given: in the closed folder, that is
    the jobs that are given them."""
    data.chmod(0o700)
    if os.geteuid() == 0:
        os.umask(0o022)


def _runtimes(config: AgentConfig) -> dict[str, Runtime]:
    wanted = config.runtimes or tuple(available_runtimes())
    found: dict[str, Runtime] = {}
    for name in wanted:
        cls = get_runtime(name)
        cls.probe()  # raises RuntimeUnavailable with the reason
        found[name] = cls(config.data / "runtimes" / name, private=(config.data,))
    if not found:
        raise FailedPrecondition("no runtime can run here (no Docker engine, and process was not allowed)")
    return found
