"""The `kiln` command line.

It starts fast by importing only what the command line in hand needs. `kiln --version` and `kiln --help`
come from the table below without importing any command's module; a command imports its own module, whose
top level holds only its argparse registration (the client, grpc, rich and the rest are imported inside the
functions that use them). tests/cli/test_startup.py keeps both true.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Collection, Sequence

import kiln
from kiln.core.errors import KilnError

TOUR = """\
first steps:
  kiln up                                  coordinator + local agent on this machine, signed in
  kiln project create demo                 a project to work in
  kiln project use demo                    make it the default (-p P or $KILN_PROJECT override it)
  kiln push . -m "first"                   snapshot this folder (only changed files travel)
  kiln snapshots                           what has been pushed
  kiln pull SNAPSHOT ./copy                restore a snapshot exactly

every listing takes --json; errors exit non-zero with one line saying what to do.
"""

# Every top-level command in `kiln --help` order: its name, its one-line help (as its module registers it),
# and the module under kiln.cli whose register() adds it. A module's commands are contiguous here.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("up", "run Kiln on this machine: coordinator + local agent, signed in", "up"),
    ("coordinator", "run the coordinator (the system of record)", "coordinator"),
    ("gateway", "serve model endpoints over HTTPS from this machine, for a coordinator", "gateway"),
    ("login", "sign in to a coordinator, pinning its CA", "auth"),
    ("logout", "revoke this sign-in's token and forget it", "auth"),
    ("whoami", "show who you are signed in as, and where", "auth"),
    ("project", "create projects and manage who may use them", "projects"),
    ("push", "snapshot a folder into a project, uploading only what the project lacks", "snapshots"),
    ("pull", "restore a snapshot into a new folder, exactly", "snapshots"),
    ("snapshots", "list a project's snapshots, newest first", "snapshots"),
    ("diff", "paths added, removed and changed between two snapshots", "snapshots"),
    ("run", "push the working folder and run a command on the cluster", "runs"),
    ("rerun", "run a run again: same snapshot, datasets, image, command, env and resources", "runs"),
    ("runs", "list or search runs, newest first", "runs"),
    ("logs", "a run's output", "runs"),
    ("cancel", "cancel a run (SIGTERM, a grace period, then SIGKILL)", "runs"),
    ("metrics", "a run's metric histories (downsampled on the coordinator)", "records"),
    ("compare", "runs side by side: params, final metrics, inputs, environment", "records"),
    ("datasets", "a project's datasets and their versions", "records"),
    ("dataset", "named, versioned snapshots used as run inputs", "records"),
    ("model", "the model registry: versions, aliases, approvals", "records"),
    ("comment", "comment on a run, snapshot, dataset or model version", "records"),
    ("comments", "the comments on an entity", "records"),
    ("lineage", "what an entity came from and what came of it", "records"),
    ("env", "environments: versioned Python environments and Docker images, built once", "environments"),
    ("deploy", "serve model versions as endpoints: create, list, show, scale, traffic, stop", "deploy"),
    ("predictions", "an endpoint's recorded predictions, newest first", "deploy"),
    ("prediction", "one prediction and what it traces to: model version, run, data, environment", "deploy"),
    ("feedback", "ground truth for an endpoint's predictions, from a CSV of prediction_id,label", "deploy"),
    ("score", "batch scoring as a tracked run: a model version over a dataset version", "deploy"),
    ("mlflow", "point existing MLflow code at a project (Kiln serves MLflow's API)", "mlflow"),
    ("workspace", "Jupyter and other tools on a node, opened from here, saved into the project", "workspaces"),
    ("schedule", "runs fired on a timetable: cron in a time zone, or every interval", "schedules"),
    ("monitor", "watch an endpoint: drift, quality, latency, errors, KPIs and a health score", "monitoring"),
    ("alerts", "alerts: firing, acknowledged and resolved, newest first", "monitoring"),
    ("alert", "an alert (show, acknowledge), a project's channels, undelivered notifications", "monitoring"),
    ("nodes", "the compute nodes, their state, capacity and runs", "nodes"),
    ("node", "manage compute nodes (admins)", "nodes"),
    ("agent", "run the node agent: enrol once with a join token, then take work", "nodes"),
    ("user", "manage users (admins)", "admin"),
    ("token", "API tokens for automation", "admin"),
    ("audit", "the tamper-evident audit log (admins)", "admin"),
    ("desktop", "open the Kiln desktop app", "desktop"),
    ("tray", "the admin tray (IT): cluster health, nodes, join tokens, the admin window", "desktop"),
    ("doctor", "check this workstation or node and say what is wrong", "ops"),  # [ops]
    ("admin", "maintenance of a coordinator's data folder (run on its host)", "ops"),  # [ops] admin gc
)
MODULE_OF = {name: module for name, _, module in COMMANDS}


def build_parser(modules: Collection[str] | None = None, listing: bool = True) -> argparse.ArgumentParser:
    """The command line, with every command's module registered (`modules` None), or only those named in
    `modules`; the others then appear by name and one-line help, which is all `kiln --help` shows of them,
    or (`listing` False, where no top-level help can be printed) not at all."""
    parser = argparse.ArgumentParser(
        prog="kiln",
        description="Kiln: reproducible data science on your own machines.",
        epilog=TOUR,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kiln {kiln.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    registered: set[str] = set()
    for name, help_text, module in COMMANDS:
        if modules is None or module in modules:
            if module not in registered:
                registered.add(module)
                importlib.import_module(f"kiln.cli.{module}").register(sub)
        elif listing:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _parser_for(argv: list[str]) -> argparse.ArgumentParser:
    """Only what this command line can use. The top level takes no values, so the first word is the command:
    only its module is imported. The top-level listing is built only where it can be printed, that is
    unless the command (or --version) comes first."""
    first = argv[0] if argv else ""
    if first in MODULE_OF:
        return build_parser({MODULE_OF[first]}, listing=False)
    if first == "--version":
        return build_parser((), listing=False)
    word = next((arg for arg in argv if not arg.startswith("-")), "")
    return build_parser({MODULE_OF[word]} if word in MODULE_OF else ())


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


# The collector's first generation, for a `kiln` process that runs one command and exits: its start-up
# (grpc, protobuf, the client) makes some 50,000 objects that live until exit, and the default threshold
# (700) walks them in some 70 collections, ~15 ms of a ~150 ms command; at 100,000 it sees none. The
# services keep the interpreter's default, and with it their pauses as short as they were.
GC_THRESHOLD = 100_000
SERVICES = frozenset({"up", "coordinator", "gateway", "agent", "desktop", "tray"})


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command line: `argv`, or (None) this process's own, which is also tuned for a short life."""
    if argv is not None:
        return _main(list(argv))
    words = sys.argv[1:]
    if not words or words[0] not in SERVICES:
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        return _main(words)
    finally:
        # Nothing made so far is collected again: the interpreter's last collections at exit, which would
        # walk every object only to free what exit frees anyway, cost ~25 ms of a command otherwise.
        gc.freeze()


def _main(argv: list[str]) -> int:
    words = _join_signed_values(argv)
    parser = _parser_for(words)
    args = parser.parse_args(words)
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
