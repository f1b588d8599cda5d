"""What the launch dialog's fields mean, as a pure function from their text to a RunSpec: the same rules
as `kiln run` (a shell-like command line, sizes like 4G, KEY=VALUE pairs), checked before anything is
pushed, so a typo costs no upload and is said next to the form."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from kiln.core.errors import InvalidArgument
from kiln.core.runs import Priority, Resources, RunSpec
from kiln.core.units import parse_size

RUNTIMES = ("any", "process", "docker")
NETWORKS = ("none", "host", "bridge")


@dataclass(frozen=True)
class LaunchForm:
    """The dialog's fields as typed (text where the person types text)."""

    project: str
    command: str
    image: str = ""
    runtime: str = "any"
    cpus: float = 1.0
    memory: str = ""
    gpus: int = 0
    gpu_model: str = ""
    priority: str = "normal"
    labels: str = ""  # k=v, k=v
    env: str = ""  # one KEY=VALUE a line
    network: str = "none"
    retries: int = 0


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"{what} {item!r} must look like KEY=VALUE")
        found[key.strip()] = value
    return found


def parse_command(text: str) -> tuple[str, ...]:
    try:
        words = tuple(shlex.split(text))
    except ValueError as e:
        raise InvalidArgument(f"the command cannot be read: {e} (check its quotes)") from None
    if not words:
        raise InvalidArgument("enter the command to run, e.g. python train.py --lr 0.01")
    return words


def build_spec(form: LaunchForm, snapshot: str = "") -> RunSpec:
    """The RunSpec the form asks for, or InvalidArgument naming the field that is wrong."""
    if not form.project:
        raise InvalidArgument("choose a project first")
    try:
        memory = parse_size(form.memory) if form.memory.strip() else 0
    except ValueError as e:
        raise InvalidArgument(f"memory: {e}") from None
    return RunSpec(
        form.project,
        parse_command(form.command),
        snapshot,
        form.image.strip(),
        "" if form.runtime == "any" else form.runtime,
        Resources(form.cpus, memory, form.gpus, form.gpu_model.strip()),
        Priority.parse(form.priority),
        parse_pairs(form.labels.split(","), "label"),
        form.retries,
        parse_pairs(form.env.splitlines(), "environment variable"),
        form.network,
    )
