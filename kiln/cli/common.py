"""Small helpers shared by the command modules: sub-command groups, flags, secrets from stdin or a prompt."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from kiln.core.errors import InvalidArgument


def group(sub: Any, name: str, help_text: str) -> Any:
    """A command with sub-commands of its own; run bare, it prints its help."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=None, group_parser=parser)
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def command(sub: Any, name: str, help_text: str, func: Any, **kwargs: Any) -> argparse.ArgumentParser:
    kwargs.setdefault("description", help_text)
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, **kwargs)
    parser.set_defaults(func=func)
    return parser


PROJECT_HELP = "the project (default: $KILN_PROJECT, else the one set with kiln project use)"
NO_PROJECT = "no project: pass -p P or run kiln project use P"


def add_project(parser: argparse.ArgumentParser, help_text: str = PROJECT_HELP) -> None:
    """The one way every project-scoped command takes its project: -p/--project, else $KILN_PROJECT, else
    this KILN_HOME's default (read when the command runs, not when the parser is built)."""
    parser.add_argument("--project", "-p", default=None, metavar="P", help=help_text)


def project_of(args: argparse.Namespace, required: bool = True) -> str:
    """The project the command line names, or the default; "" when there is none and none is needed."""
    if args.project:
        return str(args.project)
    from kiln.config import default_project

    found, _ = default_project()
    if not found and required:
        raise InvalidArgument(NO_PROJECT)
    return found


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def read_secret(from_stdin: bool, prompt: str, confirm: bool = False) -> str:
    """A password or token from the first line of stdin, or asked for at the terminal."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise InvalidArgument("nothing was read from standard input")
        return value
    if not sys.stdin.isatty():
        raise InvalidArgument("no terminal to ask on; pass the secret with --password-stdin")
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != value:
        raise InvalidArgument("the two entries differ")
    return value


def ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise InvalidArgument(f"no terminal to ask on ({prompt.strip()}); pass it as an option")
    return input(prompt).strip()
