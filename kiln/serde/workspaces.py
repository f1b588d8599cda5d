"""Workspaces on the wire (workspaces.proto) and back."""

from __future__ import annotations

from kiln.core.workspaces import Workspace
from kiln.proto.v1 import workspaces_pb2

_FIELDS = (
    "project", "name", "run_id", "tool", "owner", "state", "node", "gpus", "created_at", "last_active",
    "idle_limit_s", "warned_at", "last_saved", "last_saved_at", "port", "path", "stop_reason", "shared",
)  # fmt: skip


def workspace_to_proto(w: Workspace) -> workspaces_pb2.Workspace:
    return workspaces_pb2.Workspace(**{f: getattr(w, f) for f in _FIELDS})


def workspace_from_proto(m: workspaces_pb2.Workspace) -> Workspace:
    return Workspace(**{f: getattr(m, f) for f in _FIELDS})
