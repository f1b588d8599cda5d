"""The coordinator's Prometheus endpoint (/metrics on `metrics_listen`, plain HTTP: bind it to a management
network or localhost).

State is read when Prometheus scrapes, not kept in counters that could drift: runs by state and the queue
from the database (over a read-only connection of the exporter's own, so a scrape never waits on the
store's lock), nodes and their heartbeats and GPUs from the live view (`ctx.liveness`). RPC latency is
the one thing measured as it happens, reported by the gRPC server's interceptor.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

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
            state = live.state(node.name, now)
            state = "draining" if node.drained and state == "ready" else state
            counted[state] = counted.get(state, 0) + 1
            age.add_metric([node.name], now - live.last_seen_of(node.name, node.last_seen or now))
            for gpu in live.inventory_of(node.name, node.inventory).gpus:
                gpu_util.add_metric([node.name, gpu.uuid, gpu.model], gpu.utilization / 100.0)
                gpu_mem.add_metric([node.name, gpu.uuid, gpu.model], gpu.memory_used_bytes)
        for state, n in counted.items():
            states.add_metric([state], n)
        yield from (states, age, gpu_util, gpu_mem)
        yield GaugeMetricFamily("kiln_agent_streams", "Agents connected now", value=live.connected_count())


class RpcMetrics:
    """Call latency by method and calls by method and status, as the server's one interceptor reports
    them: calls with a single reply are timed; streams are counted, not timed (an agent's stream lasts
    for days)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram("kiln_rpc_duration_seconds", "Time to answer a call", ["method"], registry=registry)
        self.calls = Counter("kiln_rpc", "Calls answered", ["method", "code"], registry=registry)

    def answered(self, method: str, code: str, seconds: float | None) -> None:
        if seconds is not None:
            self.latency.labels(method).observe(seconds)
        self.calls.labels(method, code).inc()


class Exporter:
    """The coordinator's /metrics endpoint. Made before the gRPC server (whose interceptor reports each
    call to `rpc`), started once the server's ports are bound, stopped with the server."""

    def __init__(self, ctx: Coordinator) -> None:
        self.listen = ctx.config.metrics_listen
        self.registry = CollectorRegistry()
        self.collector = CoordinatorCollector(ctx)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        self.rpc = RpcMetrics(self.registry)
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
