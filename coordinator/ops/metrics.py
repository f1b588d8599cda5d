"""The coordinator's Prometheus endpoint (/metrics on `metrics_listen`, plain HTTP: bind it to a management
network or localhost).

State is read when Prometheus scrapes, not kept in counters that could drift: runs by state and the queue
from the database (over a read-only connection of the exporter's own, so a scrape never waits on the
store's lock), nodes and their heartbeats and GPUs from the live view (`ctx.liveness`). RPC latency is
the one thing measured as it happens, by an interceptor on the gRPC server.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kiln.coordinator.context import Coordinator
from kiln.core import clock
from kiln.core.errors import InvalidArgument
from kiln.core.netaddr import split_address
from kiln.core.runs import RunState

NODE_STATES = ("ready", "draining", "unreachable", "offline")


class CoordinatorCollector(Collector):
    def __init__(self, ctx: Coordinator) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None:
                path = self.ctx.config.data_dir / "kiln.db"
                self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            return self._conn.execute(sql).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("kiln_runs", "Runs in each state", labels=["state"])
        counts = dict(self._query("SELECT state, count(*) FROM runs GROUP BY state"))
        for state in RunState:
            runs.add_metric([str(state)], counts.get(str(state), 0))
        yield runs
        yield GaugeMetricFamily("kiln_queue_depth", "Runs waiting for a node", value=counts.get("queued", 0))
        blobs = self._query("SELECT count(*), coalesce(sum(size), 0) FROM blobs")[0]
        yield GaugeMetricFamily("kiln_blobs", "Blobs in the blob store", value=blobs[0])
        yield GaugeMetricFamily("kiln_blob_bytes", "Bytes in the blob store", value=blobs[1])
        yield from self._nodes()

    def _nodes(self) -> Iterator[Metric]:
        live = self.ctx.liveness
        states = GaugeMetricFamily("kiln_nodes", "Enrolled nodes in each state", labels=["state"])
        age = GaugeMetricFamily(
            "kiln_node_heartbeat_age_seconds", "Seconds since a node was last heard from", labels=["node"]
        )
        gpu_util = GaugeMetricFamily(
            "kiln_gpu_utilization_ratio", "GPU utilisation (0-1)", labels=["node", "gpu", "model"]
        )
        gpu_mem = GaugeMetricFamily("kiln_gpu_memory_used_bytes", "GPU memory in use", labels=["node", "gpu", "model"])
        counted = dict.fromkeys(NODE_STATES, 0)
        now = clock.now()
        for node in self.ctx.store.nodes():
            state = live.state(node.name)
            state = "draining" if node.drained and state == "ready" else state
            counted[state] = counted.get(state, 0) + 1
            age.add_metric([node.name], now - live.last_seen.get(node.name, node.last_seen or now))
            for gpu in live.inventory.get(node.name, node.inventory).gpus:
                gpu_util.add_metric([node.name, gpu.uuid, gpu.model], gpu.utilization / 100.0)
                gpu_mem.add_metric([node.name, gpu.uuid, gpu.model], gpu.memory_used_bytes)
        for state, n in counted.items():
            states.add_metric([state], n)
        yield from (states, age, gpu_util, gpu_mem)
        yield GaugeMetricFamily("kiln_agent_streams", "Agents connected now", value=len(live.connected))


class RpcMetrics(grpc.aio.ServerInterceptor):
    """Times every call with a single reply (streams are counted, not timed: an agent's stream lasts for
    days) and counts calls by method and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram("kiln_rpc_duration_seconds", "Time to answer a call", ["method"], registry=registry)
        self.calls = Counter("kiln_rpc", "Calls answered", ["method", "code"], registry=registry)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        io = (handler.request_deserializer, handler.response_serializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._unary(handler.unary_unary, method), *io)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(self._unary(handler.stream_unary, method), *io)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(self._stream(handler.unary_stream, method), *io)
        return grpc.stream_stream_rpc_method_handler(self._stream(handler.stream_stream, method), *io)

    def _done(self, method: str, context: grpc.aio.ServicerContext) -> None:
        code = context.code() or grpc.StatusCode.OK
        self.calls.labels(method, getattr(code, "name", str(code))).inc()

    def _unary(self, behaviour: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                return await behaviour(request, context)
            finally:
                self.latency.labels(method).observe(time.perf_counter() - started)
                self._done(method, context)

        return timed

    def _stream(self, behaviour: Callable[..., AsyncIterator[Any]], method: str) -> Callable[..., Any]:
        async def counted(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for reply in behaviour(request, context):
                    yield reply
            finally:
                self._done(method, context)

        return counted


class Exporter:
    """The coordinator's /metrics endpoint. Made before the gRPC server (its `interceptor` goes first in
    the server's interceptors), started once the server's ports are bound, stopped with the server."""

    def __init__(self, ctx: Coordinator) -> None:
        self.listen = ctx.config.metrics_listen
        self.registry = CollectorRegistry()
        self.collector = CoordinatorCollector(ctx)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        self.interceptor = RpcMetrics(self.registry)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server else 0

    def start(self) -> None:
        self._server, self._thread = serve_metrics(self.registry, self.listen)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
        self.collector.close()


def serve_metrics(registry: CollectorRegistry, listen: str) -> tuple[Any, threading.Thread]:
    """Serves `registry` over HTTP on HOST:PORT (port 0: a free one)."""
    host, port = split_address(listen)
    try:
        return start_http_server(port, host, registry)
    except OSError as e:
        raise InvalidArgument(f"cannot serve metrics on {listen}: {e}") from None
