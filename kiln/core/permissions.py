"""Who may do what: global admins, and per-project owner / editor / viewer roles."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.IntEnum):
    VIEWER = 1
    EDITOR = 2
    OWNER = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}; use viewer, editor or owner") from None

    def __str__(self) -> str:
        return self.name.lower()


class Need(enum.Enum):
    """What an action requires of the caller in a project."""

    READ = Role.VIEWER
    WRITE = Role.EDITOR
    MANAGE = Role.OWNER


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user: str
    is_admin: bool = False
    token_id: str = ""
    node: str = ""  # set for an agent, authenticated by its node certificate; `user` is then "node:<name>"

    @classmethod
    def for_node(cls, name: str) -> Principal:
        return cls(f"node:{name}", node=name)


def project_decision(who: Principal, need: Need, project: str, role: Role | None, archived: bool = False) -> str | None:
    """None when allowed, else the reason in words: what is missing and how to get it."""
    if archived and need is not Need.READ:
        return f"project {project!r} is archived; it can be read but not changed"
    if who.is_admin:
        return None
    if who.node:
        # A node acts as an editor of a project only while it runs one of its runs (role given by caller).
        if role is None or need is Need.MANAGE:
            return f"node {who.node!r} runs nothing in project {project!r} and may not touch it"
        return None
    if role is None:
        return (
            f"user {who.user!r} is not a member of project {project!r}; "
            f"ask a project owner to add you (kiln project add-member {project} {who.user} --role editor)"
        )
    if role < need.value:
        return (
            f"user {who.user!r} is {role} in project {project!r}, and this needs "
            f"{Role(need.value)} or above; ask a project owner"
        )
    return None


def admin_decision(who: Principal, action: str) -> str | None:
    if who.is_admin:
        return None
    return f"{action} needs a global admin; user {who.user!r} is not one"
