"""The `kiln` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import kiln
from kiln.core.errors import KilnError

TOUR = """\
first steps:
  kiln up                                  coordinator + local agent on this machine, signed in
  kiln project create demo                 a project to work in
  kiln push . --project demo -m "first"    snapshot this folder (only changed files travel)
  kiln snapshots --project demo            what has been pushed
  kiln pull SNAPSHOT ./copy                restore a snapshot exactly

every listing takes --json; errors exit non-zero with one line saying what to do.
"""


def build_parser() -> argparse.ArgumentParser:
    from kiln.cli import admin, auth, coordinator, desktop, nodes, projects, records, runs, snapshots, up
    from kiln.cli.ops import register as register_ops  # [ops]

    parser = argparse.ArgumentParser(
        prog="kiln",
        description="Kiln: reproducible data science on your own machines.",
        epilog=TOUR,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kiln {kiln.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (up, coordinator, auth, projects, snapshots, runs, records, nodes, admin, desktop):
        module.register(sub)
    register_ops(sub)  # [ops] doctor, admin gc
    return parser


def _join_signed_values(argv: list[str]) -> list[str]:
    """`--sort -metrics.acc` as people write it: argparse would take "-metrics.acc" for an option."""
    end = argv.index("--") if "--" in argv else len(argv)  # a run's own command is left alone
    joined: list[str] = []
    for arg in argv[:end]:
        if joined and joined[-1] == "--sort" and arg.startswith("-"):
            joined[-1] = f"--sort={arg}"
        else:
            joined.append(arg)
    return joined + argv[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_signed_values(list(sys.argv[1:] if argv is None else argv)))
    func = getattr(args, "func", None)
    if func is None:
        (getattr(args, "group_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KilnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
