"""The Python client: gRPC in, domain values out. The CLI, the desktop and the agent talk only through it;
no protobuf type appears in its methods or attributes (the agent's link module alone opens its stream on
`channel`).

A command line starts fast only if it loads what it uses: the wire modules of each service are loaded on
first use (`_Lazy`), and each service's stub when first called, so `kiln runs` never loads the registry's.

Listings come from the coordinator in pages (kiln/core/paging.py). Each `list_…` method follows the pages
and returns every row (or `limit` of them); the `…_pages` methods yield the pages as they arrive, for a
caller that shows a long listing as it comes.
"""

from __future__ import annotations

from kiln.client.admin import AdminCalls
from kiln.client.base import CHANNEL_OPTIONS
from kiln.client.compute import ComputeCalls
from kiln.client.deployments import DeploymentCalls
from kiln.client.environments import EnvironmentCalls
from kiln.client.gateway import GatewayCalls
from kiln.client.monitoring import MonitoringCalls
from kiln.client.projects import ProjectCalls
from kiln.client.records import RecordCalls
from kiln.client.schedules import ScheduleCalls
from kiln.client.tunnels import TunnelCalls
from kiln.client.workspaces import WorkspaceCalls

__all__ = ["CHANNEL_OPTIONS", "Client"]


class Client(
    AdminCalls,
    ProjectCalls,
    ComputeCalls,
    RecordCalls,
    EnvironmentCalls,
    DeploymentCalls,
    GatewayCalls,
    ScheduleCalls,
    MonitoringCalls,
    TunnelCalls,
    WorkspaceCalls,
):
    """A connection to one coordinator, trusting only the pinned CA, calling as the token's user; its
    calls are grouped by the .proto they speak (kiln/client/admin.py, projects.py, compute.py, records.py,
    environments.py, deployments.py, gateway.py, schedules.py, monitoring.py)."""
