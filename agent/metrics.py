"""The agent's Prometheus endpoint: whether it is connected, what it runs, what waits in its spool for an
acknowledgement, and the node's CPU, memory, disk and GPUs, read when Prometheus scrapes.

It is the node-local view: the coordinator's /metrics has the fleet; this one still answers when the
coordinator is unreachable, which is when an operator most wants to look at a node.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kiln.agent import inventory
from kiln.core.errors import InvalidArgument
from kiln.core.netaddr import split_address

if TYPE_CHECKING:
    from kiln.agent.daemon import Agent


class AgentCollector(Collector):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self.agent
        labels = ["node"]
        node = [agent.name]

        def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, text, labels=labels)
            family.add_metric(node, value)
            return family

        yield gauge("kiln_agent_connected", "1 while the stream to the coordinator is up", agent.connected.is_set())
        yield gauge("kiln_agent_drained", "1 while the node takes no new runs", agent.drained)
        yield gauge("kiln_agent_jobs", "Jobs this agent runs", len(agent.jobs))
        pending = agent.spool.pending_count()
        yield gauge("kiln_agent_spool_pending", "Reports not yet acknowledged by the coordinator", pending)
        inv = inventory.collect(agent.config.data, agent.config.inventory_file)
        yield gauge("kiln_node_cpu_percent", "CPU use", inv.cpu_percent)
        yield gauge("kiln_node_memory_used_bytes", "Memory in use", inv.memory_used_bytes)
        yield gauge("kiln_node_disk_free_bytes", "Free disk under the agent's folder", inv.disk_free_bytes)
        util = GaugeMetricFamily("kiln_gpu_utilization_ratio", "GPU utilisation (0-1)", labels=["node", "gpu", "model"])
        mem = GaugeMetricFamily("kiln_gpu_memory_used_bytes", "GPU memory in use", labels=["node", "gpu", "model"])
        temp = GaugeMetricFamily("kiln_gpu_temperature_celsius", "GPU temperature", labels=["node", "gpu", "model"])
        for gpu in inv.gpus:
            key = [agent.name, gpu.uuid, gpu.model]
            util.add_metric(key, gpu.utilization / 100.0)
            mem.add_metric(key, gpu.memory_used_bytes)
            temp.add_metric(key, gpu.temperature_c)
        yield from (util, mem, temp)


class AgentExporter:
    def __init__(self, agent: Agent, listen: str) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(AgentCollector(agent))
        ProcessCollector(registry=self.registry)
        host, port = split_address(listen)
        try:
            self._server: Any
            self._server, self._thread = start_http_server(port, host, self.registry)
        except OSError as e:
            raise InvalidArgument(f"cannot serve metrics on {listen}: {e}") from None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stops serving; safe to call more than once (the agent's stop may be signalled twice)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
