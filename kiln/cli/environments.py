"""`kiln env …`: create, list, show, diff and default a project's environments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.cli.common import add_json, add_project, command, group, project_of
from kiln.cli.output import emit_json, info, table, when
from kiln.cli.session import connect
from kiln.core.errors import FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    from kiln.client import Client
    from kiln.core.environments import Environment

ENV_HELP = """\
examples:
  kiln env create ml --requirements requirements.txt --python 3.11   lock it (uv), build it once, version 1
  kiln env create img --dockerfile Dockerfile --context .            build the image on a Docker node
  kiln env list --json                                               every version, its state and digest
  kiln env show ml:1                                                 its packages, lock, build run, nodes
  kiln env default ml                                                runs that name none use ml's latest
  kiln env diff ml:1 ml:2                                            the packages that differ (runs too)
  kiln run --env ml:1 -- python train.py                             python there is the environment's
"""
LOG_TAIL_LINES = 20


def register(sub: Any) -> None:
    g = group(sub, "env", "environments: versioned Python environments and Docker images, built once")
    p = command(
        g,
        "create",
        "make the first (or next) version of an environment, and build it",
        create,
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--requirements", type=Path, metavar="FILE", help="a requirements.txt to lock")
    source.add_argument("--pyproject", type=Path, metavar="DIR", help="a folder with a pyproject.toml to lock")
    source.add_argument("--dockerfile", type=Path, metavar="FILE", help="a Dockerfile to build on a Docker node")
    p.add_argument(
        "--context", type=Path, metavar="DIR", help="the Docker build context (default: the Dockerfile's folder)"
    )
    p.add_argument("--python", default="", help="the Python version of a Python environment (default: this one's)")
    p.add_argument("--index-url", default="", help="the package index to lock from (default: uv's configuration)")
    p.add_argument("--find-links", action="append", default=[], metavar="DIR|URL", help="also look for wheels here")
    p.add_argument("--no-index", action="store_true", help="only --find-links, no package index")
    p.add_argument("--no-wait", action="store_true", help="queue the build and return (kiln env show says when ready)")
    add_project(p)
    add_json(p)
    p = command(g, "list", "a project's environments, every version", list_envs)
    p.add_argument("name", nargs="?", default="", help="only this environment's versions")
    add_project(p)
    add_json(p)
    p = command(g, "show", "one version: its definition, packages, build and the nodes holding it", show)
    p.add_argument("ref", metavar="NAME[:V]")
    p.add_argument("--definition", action="store_true", help="print only its lock or Dockerfile")
    add_project(p)
    add_json(p)
    p = command(g, "default", "show or set the environment runs use when they name none", default)
    p.add_argument("ref", nargs="?", default=None, metavar="NAME[:V]", help="NAME follows its latest version")
    p.add_argument("--clear", action="store_true", help="no default: runs without --env use the node's Python")
    add_project(p)
    add_json(p)
    p = command(g, "diff", "the packages that differ between two environments or runs", diff)
    p.add_argument("a", metavar="A", help="NAME:V, or a run id (what it ran in)")
    p.add_argument("b", metavar="B")
    p.add_argument("--all", action="store_true", help="every package, not only those that differ")
    add_project(p)
    add_json(p)
    p = command(g, "log", "the build log of a version (its build run's output)", log)
    p.add_argument("ref", metavar="NAME[:V]")
    add_project(p)


def env_dict(e: Environment) -> dict[str, object]:
    return {
        "project": e.project,
        "name": e.name,
        "version": e.version,
        "ref": e.ref,
        "kind": str(e.kind),
        "digest": e.digest,
        "state": str(e.state),
        "reason": e.reason or None,
        "source": e.source or None,
        "python": e.definition.python or None,
        "python_version": e.python_version or None,
        "packages": list(e.packages),
        "image_id": e.image_id or None,
        "image_snapshot": e.image_snapshot or None,
        "size_bytes": e.size_bytes or None,
        "context": e.definition.context or None,
        "build_run": e.build_run or None,
        "cached_on": list(e.cached_on),
        "created_by": e.created_by,
        "created_at": when(e.created_at),
    }


def create(args: argparse.Namespace) -> int:
    from kiln.core.environments import Definition, EnvKind

    project = project_of(args)
    if args.dockerfile is not None:
        if args.python:
            raise InvalidArgument("a Docker environment takes its Python from its image: leave --python out")
        text = _read(args.dockerfile, "Dockerfile")
        context_dir = args.context or args.dockerfile.resolve().parent
        if not context_dir.is_dir():
            raise InvalidArgument(f"build context {context_dir} is not a folder")
    elif args.context is not None:
        raise InvalidArgument("--context goes with --dockerfile")
    with connect() as client:
        if args.dockerfile is not None:
            from kiln.cli.progress import reporter_for
            from kiln.cli.session import cache_dir
            from kiln.sync.push import push

            context = push(
                client,
                context_dir.resolve(),
                project,
                f"build context of environment {args.name}",
                cache_dir(),
                reporter_for(args.json),
            ).snapshot.id
            definition = Definition(EnvKind.DOCKER, text, "", context)
            source = str(args.dockerfile)
        else:
            python = args.python or f"{sys.version_info.major}.{sys.version_info.minor}"
            file, source = _requirements(args)
            definition = Definition(EnvKind.PYTHON, _lock(file, python, args), python)
        env = client.create_environment(project, args.name, definition, source)
        if not args.json:
            info(f"environment {env.ref} ({env.kind}, digest {env.digest[:12]}): {env.state}")
        if not args.no_wait and env.state == "building":
            env = _wait(client, env, quiet=args.json)
    if args.json:
        emit_json(env_dict(env))
    else:
        _said(env)
    return 1 if env.state == "failed" else 0


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise InvalidArgument(f"cannot read the {what} {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"the {what} {path} is not UTF-8 text") from None


def _requirements(args: argparse.Namespace) -> tuple[Path, str]:
    if args.requirements is not None:
        if not args.requirements.is_file():
            raise InvalidArgument(f"{args.requirements} is not a file")
        return args.requirements, args.requirements.name
    found = args.pyproject / "pyproject.toml"
    if not found.is_file():
        raise InvalidArgument(f"{args.pyproject} has no pyproject.toml")
    return found, "pyproject.toml"


def _lock(file: Path, python: str, args: argparse.Namespace) -> str:
    from kiln.sync.locks import IndexSettings, resolve_lock

    index = IndexSettings(args.index_url, tuple(args.find_links), args.no_index)
    if not args.json:
        info(f"locking {file} for Python {python} (uv)…")
    return resolve_lock(file, python, index)


def _wait(client: Client, env: Environment, quiet: bool) -> Environment:
    """Follows the build run's log until it ends (on stderr, so stdout stays the result), then the version
    as the build left it."""
    if not quiet:
        info(f"building on the cluster (run {env.build_run}); its log follows")
    for chunk in client.read_logs(env.build_run, follow=True):
        if not quiet:
            sys.stderr.write(chunk.data.decode("utf-8", "replace"))
            sys.stderr.flush()
    return client.get_environment(env.project, env.ref)


def _said(env: Environment) -> None:
    if env.state == "ready":
        what = f"Python {env.python_version}" if env.python_version else "no Python"
        print(
            f"environment {env.ref} is ready: {what}, {len(env.packages)} packages; "
            f"use it with kiln run --env {env.ref} -- …"
        )
    elif env.state == "failed":
        print(f"environment {env.ref} failed to build: {env.reason}", file=sys.stderr)
        print(f"its whole build log: kiln env log {env.ref}  (run {env.build_run})", file=sys.stderr)
    else:
        print(f"environment {env.ref} is building (run {env.build_run}); kiln env show {env.ref} says when it is ready")


def list_envs(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        found = client.list_environments(project, args.name)
        chosen = client.default_environment(project)
    if args.json:
        emit_json([{**env_dict(e), "default": _is_default(e, chosen, found)} for e in found])
        return 0
    table(
        ["NAME", "VERSION", "KIND", "STATE", "PYTHON", "PACKAGES", "DIGEST", "CACHED ON", "CREATED", "BY"],
        [
            (
                e.name + (" (default)" if _is_default(e, chosen, found) else ""),
                e.version,
                str(e.kind),
                str(e.state),
                e.python_version or e.definition.python,
                len(e.packages) or "",
                e.digest[:12],
                ", ".join(e.cached_on),
                when(e.created_at),
                e.created_by,
            )
            for e in found
        ],
        "no environments; make one with kiln env create NAME --requirements requirements.txt",
    )
    return 0


def _is_default(e: Environment, chosen: str, found: list[Environment]) -> bool:
    if not chosen:
        return False
    if ":" in chosen:
        return chosen == e.ref
    latest = max((v.version for v in found if v.name == e.name), default=0)
    return chosen == e.name and e.version == latest


def show(args: argparse.Namespace) -> int:
    with connect() as client:
        env = client.get_environment(project_of(args), args.ref)
    if args.definition:
        sys.stdout.write(env.definition.text)
        return 0
    if args.json:
        emit_json({**env_dict(env), "definition": env.definition.text})
        return 0
    rows = [
        ("environment", f"{env.ref} ({env.kind})"),
        ("state", str(env.state) + (f": {env.reason}" if env.reason else "")),
        ("digest", env.digest),
        ("made from", env.source),
        ("python", env.python_version or env.definition.python),
        ("image", f"{env.image_id} ({env.size_bytes} bytes saved)" if env.image_id else ""),
        ("build run", f"{env.build_run} (kiln env log {env.ref})"),
        ("cached on", ", ".join(env.cached_on) or "no node yet"),
        ("created", f"{when(env.created_at)} by {env.created_by}"),
    ]
    table(["", ""], [r for r in rows if r[1]])
    print()
    table(["PACKAGE"], [(p,) for p in env.packages], "no packages recorded")
    return 0


def default(args: argparse.Namespace) -> int:
    project = project_of(args)
    with connect() as client:
        if args.clear or args.ref is not None:
            chosen = client.set_default_environment(project, "" if args.clear else args.ref)
        else:
            chosen = client.default_environment(project)
    if args.json:
        emit_json({"project": project, "default": chosen or None})
    elif chosen:
        print(f"runs in {project} that name no environment use {chosen}")
    else:
        print(f"{project} has no default environment: runs without --env use the node's Python or their --image")
    return 0


def diff(args: argparse.Namespace) -> int:
    from kiln.core.environments import diff_packages

    project = project_of(args, required=False)
    with connect() as client:
        (a_name, a), (b_name, b) = (_packages(client, project, ref) for ref in (args.a, args.b))
    differing = diff_packages(a, b)
    shown = {n: (a.get(n, ""), b.get(n, "")) for n in sorted(a.keys() | b.keys())} if args.all else differing
    if args.json:
        emit_json(
            {
                "a": a_name,
                "b": b_name,
                "packages": [
                    {"name": n, "a": va or None, "b": vb or None, "differs": n in differing}
                    for n, (va, vb) in shown.items()
                ],
            }
        )
        return 0
    table(
        ["", "PACKAGE", a_name, b_name],
        [("*" if n in differing else "", n, va or "-", vb or "-") for n, (va, vb) in shown.items()],
        f"no package differs between {a_name} and {b_name}",
    )
    return 0


def _packages(client: Client, project: str, ref: str) -> tuple[str, dict[str, str]]:
    """What `ref` (a run id, or an environment NAME:V) ran with: its name in the table, and its packages."""
    from kiln.core.environments import package_map

    if ref.startswith("r-"):
        record = client.run_record(ref)
        packages = record.environment.get("packages", "")
        if not packages:
            raise FailedPrecondition(f"run {record.run.id} recorded no packages")
        return record.run.id, package_map(packages)
    if not project:
        raise InvalidArgument("an environment is named within a project: pass -p P (or kiln project use P)")
    env = client.get_environment(project, ref)
    return env.ref, package_map(env.packages)


def log(args: argparse.Namespace) -> int:
    with connect() as client:
        env = client.get_environment(project_of(args), args.ref)
        if not env.build_run:
            raise FailedPrecondition(f"environment {env.ref} has no build run")
        for chunk in client.read_logs(env.build_run):
            sys.stdout.write(chunk.data.decode("utf-8", "replace"))
    return 0
