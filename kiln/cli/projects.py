"""`kiln project …`: create, list, show, use (the default project), members, archive."""

from __future__ import annotations

import argparse
import os
from typing import Any

from kiln.cli.common import NO_PROJECT, add_json, command, group
from kiln.cli.output import emit_json, emit_json_stream, info, stream_table, table, when
from kiln.cli.session import connect
from kiln.core.errors import InvalidArgument
from kiln.core.models import Project


def register(sub: Any) -> None:
    g = group(sub, "project", "create projects and manage who may use them")
    p = command(g, "create", "create a project; you become its owner", create)
    p.add_argument("name")
    p.add_argument("--description", "-d", default="")
    add_json(p)
    p = command(g, "list", "projects you are a member of (admins: all)", list_)
    p.add_argument("--archived", action="store_true", help="include archived projects")
    add_json(p)
    p = command(g, "show", "a project and its members", show)
    p.add_argument("name", nargs="?", default="", help="(default: the default project)")
    add_json(p)
    p = command(
        g,
        "use",
        "set the default project for this KILN_HOME",
        use,
        description="Set the project that commands use when given no -p/--project (and $KILN_PROJECT is not "
        "set), for this KILN_HOME. Without a name, say which one is in use.",
    )
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--clear", action="store_true", help="have no default project")
    p = command(g, "add-member", "add a user to a project, or change their role", add_member)
    p.add_argument("project")
    p.add_argument("user")
    p.add_argument("--role", required=True, choices=["viewer", "editor", "owner"])
    p = command(g, "validator", "make a member a model validator (or stop: --remove)", validator)
    p.add_argument("project")
    p.add_argument("user")
    p.add_argument("--remove", action="store_true")
    p = command(g, "remove-member", "remove a user from a project", remove_member)
    p.add_argument("project")
    p.add_argument("user")
    p = command(g, "archive", "make a project read-only and hide it from listings", archive)
    p.add_argument("name")


def project_dict(p: Project) -> dict[str, object]:
    return {
        "name": p.name,
        "description": p.description,
        "created_by": p.created_by,
        "created_at": when(p.created_at),
        "archived_at": when(p.archived_at) or None,
        "my_role": p.my_role or None,
        "members": {u: str(r) for u, r in sorted(p.members.items())},
        "validators": list(p.validators),
    }


def _show(p: Project, as_json: bool) -> None:
    if as_json:
        emit_json(project_dict(p))
        return
    state = f", archived {when(p.archived_at)}" if p.archived_at else ""
    print(f"{p.name}: {p.description or '(no description)'}\ncreated by {p.created_by} at {when(p.created_at)}{state}")
    table(["MEMBER", "ROLE"], [(u, str(r)) for u, r in sorted(p.members.items())], "no members")


def create(args: argparse.Namespace) -> int:
    with connect() as client:
        _show(client.create_project(args.name, args.description), args.json)
    return 0


def list_(args: argparse.Namespace) -> int:
    """The projects page by page as the coordinator sends them."""
    with connect() as client:
        pages = client.project_pages(args.archived)
        if args.json:
            emit_json_stream(project_dict(p) for page in pages for p in page)
        else:
            stream_table(
                ["NAME", "ROLE", "MEMBERS", "CREATED", "DESCRIPTION"],
                (
                    [
                        (
                            p.name + (" (archived)" if p.archived_at else ""),
                            p.my_role or "-",
                            len(p.members),
                            when(p.created_at),
                            p.description,
                        )
                        for p in page
                    ]
                    for page in pages
                ),
                "no projects yet; create one with kiln project create NAME",
            )
    return 0


def show(args: argparse.Namespace) -> int:
    from kiln.config import default_project

    name = args.name or default_project()[0]
    if not name:
        raise InvalidArgument("which project? name it, or set a default with kiln project use P")
    with connect() as client:
        _show(client.get_project(name), args.json)
    return 0


def use(args: argparse.Namespace) -> int:
    from kiln.config import PROJECT_ENV, default_project, load_profile, set_default_project

    if args.clear and args.name:
        raise InvalidArgument("give a project or --clear, not both")
    if not args.name and not args.clear:
        name, source = default_project()
        if not name:
            raise InvalidArgument(NO_PROJECT)
        print(f"{name} (from {source})")
        return 0
    if args.name:
        with connect() as client:
            client.get_project(args.name)  # it must exist, and be yours to read
    profile = set_default_project(args.name)
    if args.clear:
        print("no default project: commands need -p P")
    else:
        print(f"default project: {profile.project} (on {load_profile().server}; -p or ${PROJECT_ENV} override it)")
    if os.environ.get(PROJECT_ENV) and os.environ[PROJECT_ENV] != args.name:
        info(f"note: ${PROJECT_ENV} is set to {os.environ[PROJECT_ENV]!r}, which still wins in this shell")
    return 0


def add_member(args: argparse.Namespace) -> int:
    with connect() as client:
        client.set_member(args.project, args.user, args.role)
    print(f"{args.user} is now {args.role} in {args.project}")
    return 0


def validator(args: argparse.Namespace) -> int:
    with connect() as client:
        client.set_validator(args.project, args.user, not args.remove)
    print(f"{args.user} {'is no longer' if args.remove else 'is now'} a model validator in {args.project}")
    return 0


def remove_member(args: argparse.Namespace) -> int:
    with connect() as client:
        client.remove_member(args.project, args.user)
    print(f"{args.user} removed from {args.project}")
    return 0


def archive(args: argparse.Namespace) -> int:
    with connect() as client:
        client.archive_project(args.name)
    print(f"{args.name} archived (read-only)")
    return 0
