"""The production factory: builds the coordinator's gRPC server over TLS, on a port of the caller's choice
(port 0 in tests, read back from the bound socket)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from kiln.coordinator.accounts import Authenticator
from kiln.coordinator.context import Coordinator, CoordinatorConfig, open_coordinator
from kiln.coordinator.rpc.identity import AuditServicer, AuthServicer, UsersServicer
from kiln.coordinator.rpc.interceptor import AuthInterceptor
from kiln.coordinator.rpc.projects import ProjectsServicer, SnapshotsServicer
from kiln.proto.v1 import admin_pb2_grpc, projects_pb2_grpc

from kiln.core import defaults
from kiln.core.errors import InvalidArgument
from kiln.core.netaddr import join_address, split_address

log = logging.getLogger("kiln.coordinator")

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]


async def build_server(ctx: Coordinator) -> tuple[grpc.aio.Server, int]:
    """A started server with every service, bound as the configuration says; returns it and its port."""
    server = grpc.aio.server(interceptors=[AuthInterceptor(Authenticator(ctx.store))], options=GRPC_OPTIONS)
    admin_pb2_grpc.add_AuthServicer_to_server(AuthServicer(ctx), server)
    admin_pb2_grpc.add_UsersServicer_to_server(UsersServicer(ctx), server)
    admin_pb2_grpc.add_AuditServicer_to_server(AuditServicer(ctx), server)
    projects_pb2_grpc.add_ProjectsServicer_to_server(ProjectsServicer(ctx), server)
    projects_pb2_grpc.add_SnapshotsServicer_to_server(SnapshotsServicer(ctx), server)
    credentials = grpc.ssl_server_credentials([(ctx.tls.key_pem, ctx.tls.chain_pem)])
    try:
        bound = server.add_secure_port(join_address(*split_address(ctx.config.listen)), credentials)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise InvalidArgument(f"cannot listen on {ctx.config.listen}: address in use or not available")
    await server.start()
    return server, bound


@dataclass
class RunningCoordinator:
    """A coordinator serving on its own event loop thread; `stop()` shuts it down and closes the store."""

    ctx: Coordinator
    port: int
    host: str
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _server: grpc.aio.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self, grace: float = 1.0) -> None:
        asyncio.run_coroutine_threadsafe(self._server.stop(grace), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self.ctx.close()


def start_in_thread(config: CoordinatorConfig) -> RunningCoordinator:
    """Opens the data folder and serves on a background thread; returns once the port is bound."""
    ctx = open_coordinator(config)
    loop = asyncio.new_event_loop()
    ready: dict[str, object] = {}
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            ready["server"], ready["port"] = loop.run_until_complete(build_server(ctx))
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
    host, _ = split_address(config.listen)
    return RunningCoordinator(ctx, ready["port"], host, loop, ready["server"], thread)  # type: ignore[arg-type]


async def serve_until_signalled(ctx: Coordinator, on_ready: Callable[[int], None]) -> None:
    """Serves until SIGINT or SIGTERM, then stops gracefully (calls in flight get a few seconds)."""
    server, port = await build_server(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    on_ready(port)
    await stop.wait()
    log.info("stopping")
    await server.stop(3.0)
