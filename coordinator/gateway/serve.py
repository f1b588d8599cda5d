"""`Gateway`: the ASGI application on uvicorn, with the tasks that keep it current — the route poller, the
replica probes, the ledger's shipper and its fsync timer.

The listening socket is bound here rather than by uvicorn, so port 0 works and the bound port is known
before the first request, and a port already in use is an exception for the caller rather than uvicorn's
exit of the whole process. Everything runs on one event loop (uvloop when it is installed: measured
faster on the forwarding path, see the gateway's report).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvicorn

from kiln.core import defaults

from .app import Front
from .backend import GatewayBackend
from .ledger import Spool
from .proxy import Pool, Router

log = logging.getLogger("kiln.coordinator.gateway")

FIRST_ROUTES_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 3.0  # a stopping gateway ships what it can in this long; the next one ships the rest

try:  # faster loop when present; plain asyncio otherwise
    import uvloop

    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
except ImportError:  # pragma: no cover
    loop_factory = None


def listening_server(config: uvicorn.Config, listening: Callable[[], None]) -> uvicorn.Server:
    """uvicorn's server, calling `listening` once it accepts connections (the MLflow API's too)."""
    return _Server(config, listening)


def bound_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on HOST:PORT (port 0: a free one), for uvicorn to serve on. IPPROTO_TCP is
    spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it Nagle's algorithm
    and delayed ACKs hold each answer's body back by 40 ms."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it accepts connections."""

    def __init__(self, config: uvicorn.Config, listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._listening()


class Gateway:
    """The gateway server. `start_in_thread` for tests and embedding; `run` for a foreground process."""

    def __init__(
        self,
        backend: GatewayBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        spool_dir: Path | str = "spool",
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        route_poll_s: float = defaults.GATEWAY_ROUTE_POLL_S,
        *,
        bucket: Callable[[], int] | None = None,
    ) -> None:
        if bool(ssl_certfile) != bool(ssl_keyfile):
            raise ValueError("TLS needs both a certificate file and a key file")
        self.backend = backend
        self.host, self.port = host, port
        self.spool_dir = Path(spool_dir)
        self.ssl_certfile, self.ssl_keyfile = ssl_certfile, ssl_keyfile
        self.route_poll_s = route_poll_s
        self.bucket = bucket
        self.front: Front | None = None
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        sock = bound_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        return sock

    async def serve(self, listening: Callable[[], None] = lambda: None) -> None:
        """Serves until stopped (`stop`, or SIGINT/SIGTERM when on the main thread)."""
        spool = Spool(self.spool_dir)
        pool = Pool()
        front = self.front = Front(self.backend, spool, Router(pool), self.bucket)
        sock = None
        tasks: list[asyncio.Task[None]] = []
        try:
            sock = self._bind()
            with contextlib.suppress(Exception):  # a backend not up yet: the poller keeps asking
                table = await asyncio.wait_for(self.backend.routes(0), FIRST_ROUTES_TIMEOUT_S)
                if table is not None:
                    front.set_table(table)
            config = uvicorn.Config(
                front.app(),
                lifespan="off",
                http=_http(),
                access_log=False,
                log_config=None,  # the process's logging is its own (the coordinator embeds the gateway)
                log_level="warning",
                server_header=False,
                timeout_keep_alive=defaults.GATEWAY_KEEP_ALIVE_S,
                timeout_graceful_shutdown=5,
                ssl_certfile=self.ssl_certfile,
                ssl_keyfile=self.ssl_keyfile,
            )
            self._server = _Server(config, listening)
            for job in (
                self._poll_routes(front),
                self._probe(front),
                spool.ship_forever(self.backend),
                spool.sync_forever(),
            ):
                tasks.append(_spawn(job))
            await self._server.serve(sockets=[sock])
        finally:
            for task in tasks:
                task.cancel()
            for shadow in list(front.shadows):
                shadow.cancel()
            await asyncio.gather(*tasks, *front.shadows, return_exceptions=True)
            if self._server is not None and self._server.started:
                await spool.drain(self.backend, DRAIN_TIMEOUT_S)
            await pool.close()
            spool.close()
            if sock is not None:
                sock.close()

    async def _poll_routes(self, front: Front) -> None:
        failing = False
        while True:
            try:
                table = await self.backend.routes(front.table.generation)
                if table is not None:
                    front.set_table(table)
                if failing:
                    log.info("the coordinator answers again; routes are current")
                failing = False
            except Exception as e:
                if not failing:
                    log.warning("cannot get routes from the coordinator (routing by the last ones): %s", e)
                failing = True
            await asyncio.sleep(self.route_poll_s)

    async def _probe(self, front: Front) -> None:
        while True:
            addresses = {r.address for e in front.table.endpoints.values() for v in e.versions for r in v.replicas}
            addresses.discard("")
            try:
                await front.router.probe(addresses)  # each probe bounded by defaults.GATEWAY_PROBE_TIMEOUT_S
            except Exception:  # a bug in one round must not end probing: replicas would never come back
                log.exception("a round of replica probes failed")
            await asyncio.sleep(defaults.GATEWAY_PROBE_INTERVAL_S)

    def start_in_thread(self) -> int:
        """Serves on a background thread; returns the bound port once connections are accepted."""
        started = threading.Event()
        failed: list[BaseException] = []

        def main() -> None:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                self._loop = runner.get_loop()
                try:
                    runner.run(self.serve(started.set))
                except BaseException as e:  # reported to the starting thread when it happened while starting
                    failed.append(e)
                    if started.is_set():
                        log.exception("the gateway stopped")
                finally:
                    started.set()

        self._thread = threading.Thread(target=main, name="kiln-gateway", daemon=True)
        self._thread.start()
        started.wait()
        if failed and not (self._server and self._server.started):
            self._thread.join()
            raise failed[0]
        return self.port

    @property
    def alive(self) -> bool:
        """Whether the thread `start_in_thread` made still runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stops accepting, lets requests in flight finish, ships what it can, and returns when done."""
        server, loop = self._server, self._loop
        if server is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> None:
        """Serves in the foreground until SIGINT or SIGTERM."""
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(self.serve(lambda: log.warning("gateway listening on %s", self.url)))


def _http() -> str:
    """httptools (C, measured faster) when installed, else uvicorn's pure-Python h11."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover
        return "h11"
    return "httptools"


def _spawn(job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.create_task(job)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a gateway task stopped", exc_info=task.exception())
