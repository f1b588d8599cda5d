"""`kiln push`, `pull`, `snapshots`, `diff`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiln.cli.common import add_json, add_project, command, project_of
from kiln.cli.output import emit_json, emit_json_stream, stream_table, when
from kiln.cli.progress import reporter_for
from kiln.cli.session import cache_dir, connect
from kiln.core.errors import InvalidArgument
from kiln.core.units import format_bytes


def _project(p: argparse.ArgumentParser, required: bool) -> None:
    if required:
        add_project(p)
    else:
        add_project(p, "look only in this project (default: $KILN_PROJECT, else the one set with kiln project use)")


def register(sub: Any) -> None:
    p = command(sub, "push", "snapshot a folder into a project, uploading only what the project lacks", push)
    p.add_argument("path", nargs="?", default=".", type=Path, help="folder to push (default: here)")
    _project(p, True)
    p.add_argument("--message", "-m", default="", help="what this snapshot is")
    add_json(p)
    p = command(sub, "pull", "restore a snapshot into a new folder, exactly", pull)
    p.add_argument("snapshot", help="snapshot id (or a unique prefix of 8+ characters)")
    p.add_argument("dest", type=Path, help="destination folder (must not exist, or be empty)")
    _project(p, False)
    add_json(p)
    p = command(sub, "snapshots", "list a project's snapshots, newest first", snapshots)
    _project(p, True)
    add_json(p)
    p = command(sub, "diff", "paths added, removed and changed between two snapshots", diff)
    p.add_argument("old")
    p.add_argument("new")
    _project(p, False)
    add_json(p)


def push(args: argparse.Namespace) -> int:
    from kiln.sync.push import push as push_folder

    root = args.path.resolve()
    if not root.is_dir():
        raise InvalidArgument(f"{args.path} is not a folder")
    project = project_of(args)
    with connect() as client:
        result = push_folder(client, root, project, args.message, cache_dir(), reporter_for(args.json))
    if args.json:
        emit_json(result.as_dict())
    else:
        print(
            f"snapshot {result.snapshot.id} in {project}: {result.files} files, "
            f"{format_bytes(result.bytes_total)}, {format_bytes(result.bytes_uploaded)} uploaded"
        )
    return 0


def pull(args: argparse.Namespace) -> int:
    from kiln.sync.pull import pull as pull_snapshot

    with connect() as client:
        snap, entries = pull_snapshot(
            client, args.snapshot, args.dest, project_of(args, required=False), reporter_for(args.json)
        )
    data = {
        "snapshot": snap.id,
        "project": snap.project,
        "dest": str(args.dest.resolve()),
        "entries": len(entries),
        "bytes": snap.bytes,
    }
    if args.json:
        emit_json(data)
    else:
        print(
            f"restored snapshot {snap.id[:12]} of {snap.project} into {args.dest} "
            f"({snap.files} files, {format_bytes(snap.bytes)})"
        )
    return 0


def snapshots(args: argparse.Namespace) -> int:
    """The project's snapshots, newest first, page by page as the coordinator sends them."""
    project = project_of(args)
    with connect() as client:
        pages = client.snapshot_pages(project)
        if args.json:
            emit_json_stream(
                {
                    "id": s.id,
                    "project": s.project,
                    "parent": s.parent or None,
                    "message": s.message,
                    "author": s.author,
                    "created_at": when(s.created_at),
                    "files": s.files,
                    "bytes": s.bytes,
                }
                for page in pages
                for s in page
            )
        else:
            stream_table(
                ["ID", "CREATED", "AUTHOR", "FILES", "SIZE", "MESSAGE"],
                (
                    [(s.id[:12], when(s.created_at), s.author, s.files, format_bytes(s.bytes), s.message) for s in page]
                    for page in pages
                ),
                f"no snapshots in {project} yet; push one with kiln push",
            )
    return 0


def diff(args: argparse.Namespace) -> int:
    from kiln.core.manifest import diff as manifest_diff

    project = project_of(args, required=False)
    with connect() as client:
        old_snap, old = client.get_snapshot(args.old, project)
        new_snap, new = client.get_snapshot(args.new, project)
    d = manifest_diff(old, new)
    if args.json:
        emit_json(
            {
                "old": old_snap.id,
                "new": new_snap.id,
                "added": d.added,
                "removed": d.removed,
                "changed": d.changed,
            }
        )
    else:
        for mark, paths in (("A", d.added), ("D", d.removed), ("M", d.changed)):
            for path in paths:
                print(f"{mark} {path}")
        if d.is_empty():
            print("no differences")
    return 0
