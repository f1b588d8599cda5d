"""Domain records passed between the store, the servicers and the client."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.permissions import Role


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool = False
    disabled: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    name: str
    created_at: float
    expires_at: float
    revoked_at: float = 0.0
    last_used_at: float = 0.0


@dataclass(frozen=True)
class Project:
    name: str
    description: str = ""
    created_by: str = ""
    created_at: float = 0.0
    archived_at: float = 0.0
    members: dict[str, Role] = field(default_factory=dict)
    my_role: str = ""


@dataclass(frozen=True)
class Snapshot:
    id: str
    project: str
    parent: str
    message: str
    author: str
    created_at: float
    files: int
    bytes: int
