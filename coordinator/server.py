"""The production factory: builds the coordinator's gRPC server on two TLS ports (users, and agents with
mutual TLS), on ports of the caller's choice (port 0 in tests, read back from the bound sockets), with the
dispatcher running beside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.context import Coordinator, CoordinatorConfig, open_coordinator
from kiln.coordinator.deployments.gateway_backend import start_gateway
from kiln.coordinator.gateway.serve import Gateway
from kiln.coordinator.mlflow.serve import MlflowServer
from kiln.coordinator.monitoring.loop import Watch
from kiln.coordinator.ops.metrics import Exporter  # [ops]
from kiln.coordinator.rpc.admin import AuditServicer, AuthServicer, UsersServicer
from kiln.coordinator.rpc.deployments import DeploymentsServicer
from kiln.coordinator.rpc.environments import EnvironmentsServicer
from kiln.coordinator.rpc.gateway import GatewaysServicer
from kiln.coordinator.rpc.interceptor import ServerInterceptor
from kiln.coordinator.rpc.link import AgentGatewayServicer, AgentLink
from kiln.coordinator.rpc.monitoring import AlertsServicer, MonitoringServicer
from kiln.coordinator.rpc.nodes import NodesServicer
from kiln.coordinator.rpc.projects import ProjectsServicer, SnapshotsServicer
from kiln.coordinator.rpc.registry import CommentsServicer, DatasetsServicer, LineageServicer, ModelsServicer
from kiln.coordinator.rpc.runs import RunsServicer
from kiln.coordinator.rpc.schedules import SchedulesServicer
from kiln.coordinator.rpc.tracking import TrackingServicer
from kiln.coordinator.rpc.tunnels import TunnelBroker, TunnelsServicer
from kiln.coordinator.rpc.workers import Workers
from kiln.coordinator.rpc.workspaces import WorkspacesServicer
from kiln.coordinator.workspaces import IdleWatch
from kiln.core import defaults
from kiln.core.errors import InvalidArgument
from kiln.core.netaddr import join_address, split_address
from kiln.proto.v1 import (
    admin_pb2_grpc,
    deployments_pb2_grpc,
    environments_pb2_grpc,
    gateway_pb2_grpc,
    link_pb2_grpc,
    monitoring_pb2_grpc,
    nodes_pb2_grpc,
    projects_pb2_grpc,
    registry_pb2_grpc,
    runs_pb2_grpc,
    schedules_pb2_grpc,
    tracking_pb2_grpc,
    tunnels_pb2_grpc,
    workspaces_pb2_grpc,
)

log = logging.getLogger("kiln.coordinator")
GIL_SWITCH_S = 0.0005

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # A connection with no call for this long is closed (GOAWAY; a client's channel reconnects when it next
    # calls). Agents hold their stream, so they are never idle.
    ("grpc.max_connection_idle_ms", 300_000),
    # Streams one connection may hold at once; more wait their turn on the client's side.
    ("grpc.max_concurrent_streams", 256),
]


def server_options(config: CoordinatorConfig) -> list[tuple[str, int]]:
    """The gRPC server's settings. Connections that never finish their TLS handshake (port scanners, or a
    flood of idle sockets) are closed after `handshake_timeout_s` rather than grpc's default of two
    minutes: each holds a file descriptor, and once the process has none left it accepts no one, users
    signing in and agents reconnecting alike. The systemd units raise the limit itself (LimitNOFILE)."""
    return [*GRPC_OPTIONS, ("grpc.server_handshake_timeout_ms", max(1, round(config.handshake_timeout_s * 1000)))]


def agent_listen(config: CoordinatorConfig) -> str:
    if config.agent_listen:
        return config.agent_listen
    host, port = split_address(config.listen)
    return join_address(host, port + 1 if port else 0)


def _bind(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials) -> int:
    try:
        bound = server.add_secure_port(join_address(*split_address(address)), credentials)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise InvalidArgument(f"cannot listen on {address}: address in use or not available")
    return bound


@dataclass
class Serving:
    server: grpc.aio.Server
    link: AgentLink
    workers: Workers
    port: int
    agent_port: int
    loop_task: asyncio.Task[None]
    metrics: Exporter | None = None  # [ops] the Prometheus endpoint, when metrics_listen is set
    gateway: Gateway | None = None  # the HTTP gateway of the endpoints, when gateway_listen is set
    mlflow: MlflowServer | None = None  # the MLflow-compatible API, when mlflow_listen is set
    watch_task: asyncio.Task[None] | None = None  # monitors and alert notifications
    watch: Watch | None = None
    idle_task: asyncio.Task[None] | None = None  # workspaces idling past their limit
    idle: IdleWatch | None = None

    async def stop(self, grace: float) -> None:
        if self.gateway is not None:  # first: what it records still reaches the store
            await asyncio.get_running_loop().run_in_executor(None, self.gateway.stop)
        if self.mlflow is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.mlflow.stop)
        await self.server.stop(grace)
        await self.link.settle()  # what the ended streams left to do (their disconnects) is done
        for task in (self.loop_task, self.watch_task, self.idle_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.watch is not None:  # its pass under way ends before the store closes
            await asyncio.get_running_loop().run_in_executor(None, self.watch.close)
        if self.idle is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.idle.close)
        await asyncio.get_running_loop().run_in_executor(None, self.workers.shutdown)
        if self.metrics is not None:  # [ops]
            self.metrics.stop()


async def build_server(ctx: Coordinator) -> Serving:
    """A started server with every service and the dispatcher loop, bound as the configuration says."""
    # The loop and the workers share one interpreter lock; a worker back from SQLite otherwise waits up
    # to the default 5 ms for the busy loop to let go of it, several times per call.
    sys.setswitchinterval(GIL_SWITCH_S)
    metrics = Exporter(ctx) if ctx.config.metrics_listen else None  # [ops]
    workers = Workers()
    authenticator = Authenticator(ctx.store, ctx.config.max_token_lifetime_s)
    interceptor = ServerInterceptor(authenticator, workers, metrics.rpc if metrics else None)
    server = grpc.aio.server(interceptors=[interceptor], options=server_options(ctx.config))
    tls = ctx.tls
    port = _bind(server, ctx.config.listen, grpc.ssl_server_credentials([(tls.key_pem, tls.chain_pem)]))
    agent_port = _bind(
        server,
        agent_listen(ctx.config),
        grpc.ssl_server_credentials(
            [(tls.key_pem, tls.chain_pem)], root_certificates=tls.ca_pem, require_client_auth=True
        ),
    )
    link = AgentLink(ctx, workers)
    admin_pb2_grpc.add_AuthServicer_to_server(AuthServicer(ctx, agent_port, workers), server)
    admin_pb2_grpc.add_UsersServicer_to_server(UsersServicer(ctx), server)
    admin_pb2_grpc.add_AuditServicer_to_server(AuditServicer(ctx), server)
    projects_pb2_grpc.add_ProjectsServicer_to_server(ProjectsServicer(ctx), server)
    projects_pb2_grpc.add_SnapshotsServicer_to_server(SnapshotsServicer(ctx, workers), server)
    runs_pb2_grpc.add_RunsServicer_to_server(RunsServicer(ctx, workers, link), server)
    nodes_pb2_grpc.add_NodesServicer_to_server(NodesServicer(ctx, link), server)
    tunnels = TunnelBroker(link)
    link_pb2_grpc.add_AgentGatewayServicer_to_server(AgentGatewayServicer(ctx, link, agent_port, tunnels), server)
    tunnels_pb2_grpc.add_TunnelsServicer_to_server(TunnelsServicer(ctx, tunnels), server)
    workspaces_pb2_grpc.add_WorkspacesServicer_to_server(WorkspacesServicer(ctx, link), server)
    tracking_pb2_grpc.add_TrackingServicer_to_server(TrackingServicer(ctx), server)
    registry_pb2_grpc.add_DatasetsServicer_to_server(DatasetsServicer(ctx), server)
    environments_pb2_grpc.add_EnvironmentsServicer_to_server(EnvironmentsServicer(ctx), server)
    registry_pb2_grpc.add_ModelsServicer_to_server(ModelsServicer(ctx), server)
    registry_pb2_grpc.add_CommentsServicer_to_server(CommentsServicer(ctx), server)
    registry_pb2_grpc.add_LineageServicer_to_server(LineageServicer(ctx, workers), server)
    deployments_pb2_grpc.add_DeploymentsServicer_to_server(DeploymentsServicer(ctx, link), server)
    schedules_pb2_grpc.add_SchedulesServicer_to_server(SchedulesServicer(ctx, link), server)
    monitoring_pb2_grpc.add_MonitoringServicer_to_server(MonitoringServicer(ctx), server)
    monitoring_pb2_grpc.add_AlertsServicer_to_server(AlertsServicer(ctx), server)
    gateway_pb2_grpc.add_GatewaysServicer_to_server(GatewaysServicer(ctx, authenticator), server)
    gateway = None
    if ctx.config.gateway_listen:  # first: a port it cannot have leaves nothing else started
        gateway = await asyncio.get_running_loop().run_in_executor(None, start_gateway, ctx, authenticator)
    mlflow = MlflowServer(ctx, authenticator) if ctx.config.mlflow_listen else None
    if mlflow is not None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, mlflow.start)
        except BaseException:
            if gateway is not None:
                gateway.stop()
            raise
    if metrics is not None:  # [ops]
        metrics.start()
    await server.start()
    task = asyncio.get_running_loop().create_task(link.run_forever())
    watch = Watch(ctx)
    watching = asyncio.get_running_loop().create_task(watch.run_forever())
    idle = IdleWatch(ctx, link)
    idling = asyncio.get_running_loop().create_task(idle.run_forever())
    return Serving(
        server, link, workers, port, agent_port, task, metrics, gateway, mlflow, watching, watch, idling, idle
    )


@dataclass
class RunningCoordinator:
    """A coordinator serving on its own event loop thread; `stop()` shuts it down and closes the store."""

    ctx: Coordinator
    port: int
    agent_port: int
    host: str
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _serving: Serving = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def address(self) -> str:
        return join_address(self.host, self.port)

    @property
    def link(self) -> AgentLink:
        return self._serving.link

    def stop(self, grace: float = 1.0) -> None:
        asyncio.run_coroutine_threadsafe(self._serving.stop(grace), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self.ctx.close()


def start_in_thread(config: CoordinatorConfig) -> RunningCoordinator:
    """Opens the data folder and serves on a background thread; returns once the ports are bound."""
    ctx = open_coordinator(config)
    loop = asyncio.new_event_loop()
    ready: dict[str, object] = {}
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            ready["serving"] = loop.run_until_complete(build_server(ctx))
        except BaseException as e:  # reported to the starting thread
            ready["error"] = e
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=main, name="kiln-coordinator", daemon=True)
    thread.start()
    started.wait()
    if "error" in ready:
        ctx.close()
        raise ready["error"]  # type: ignore[misc]
    serving: Serving = ready["serving"]  # type: ignore[assignment]
    host, _ = split_address(config.listen)
    return RunningCoordinator(ctx, serving.port, serving.agent_port, host, loop, serving, thread)


async def serve_until_signalled(ctx: Coordinator, on_ready: Callable[[Serving], None]) -> None:
    """Serves until SIGINT or SIGTERM, then stops gracefully (calls in flight get a few seconds)."""
    serving = await build_server(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    on_ready(serving)
    await stop.wait()
    log.info("stopping")
    await serving.stop(3.0)
