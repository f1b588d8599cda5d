"""Environment versions as the desktop shows them: the Environments page's rows (the project default
marked), a version's packages, and the launch dialog's choices. Plain data from `Environment`s, so what
the page and the picker say is decided without widgets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiln.core.environments import BuildState, Environment, package_map, parse_ref
from kiln.core.errors import InvalidArgument
from kiln.desktop.pages.runs.chips import BLUE, GREEN, RED
from kiln.desktop.rows import Row, ago

VERSION_HEADERS = ("Name", "Version", "Kind", "State", "Python", "Packages", "Digest", "Cached on", "Created", "By")
STATE_COLUMN = VERSION_HEADERS.index("State")
PACKAGE_HEADERS = ("Package", "Version")
DIGEST_SHOWN = 12  # hex digits of a digest in a table; the whole one on hover
STATE_COLOURS = {BuildState.BUILDING: BLUE, BuildState.READY: GREEN, BuildState.FAILED: RED}
DEFAULT_MARK = "default"
# The launch dialog's first two choices: the project's default (the coordinator applies it to a run that
# names no environment), and none (the node's own Python, or the image given).
PROJECT_DEFAULT, NO_ENVIRONMENT = "(project default)", "(none)"


def state_colours(text: str) -> tuple[str, str]:
    """(fill, text colour) of a state pill: blue while building, green when ready, red when failed."""
    try:
        return STATE_COLOURS[BuildState(text)]
    except ValueError:
        return BLUE


def default_version(default: str, envs: Iterable[Environment]) -> str:
    """The NAME:VERSION the project default stands for now: NAME:VERSION as set, or for a bare NAME its
    latest ready version (what a run started now would get); "" for none."""
    if not default:
        return ""
    try:
        name, version = parse_ref(default)
    except InvalidArgument:
        return ""
    if version is not None:
        return f"{name}:{version}"
    ready = [e.version for e in envs if e.name == name and e.state is BuildState.READY]
    return f"{name}:{max(ready)}" if ready else ""


def digest_text(digest: str) -> str:
    return digest[:DIGEST_SHOWN]


def version_rows(envs: Sequence[Environment], default: str, now: float) -> list[Row]:
    """One row a version, by name then newest version first; the version the project default stands for
    marked (its Version cell says so), each keyed by NAME:VERSION."""
    marked = default_version(default, envs)
    bare = default != marked  # NAME: whichever version is the latest ready one when a run starts
    rows = []
    for e in sorted(envs, key=lambda e: (e.name, -e.version)):
        is_default = e.ref == marked
        version = f"{e.version} ({DEFAULT_MARK})" if is_default else str(e.version)
        created, created_tip = ago(e.created_at, now)
        cells = (
            e.name,
            version,
            str(e.kind),
            str(e.state),
            e.python_version or e.definition.python,
            str(len(e.packages)) if e.packages else "",
            digest_text(e.digest),
            ", ".join(e.cached_on),
            created,
            e.created_by,
        )
        default_tip = f"the project default ({default}: its latest ready version)" if bare else "the project default"
        tips = (
            e.source,
            default_tip if is_default else "",
            "",
            e.reason or ("its build run is queued or running" if e.state is BuildState.BUILDING else ""),
            "the Python the build found" if e.python_version else "the Python asked for",
            "",
            e.digest,
            "",
            created_tip,
            "",
        )
        sort = (e.name, e.version, *cells[2:5], len(e.packages), e.digest, cells[7], e.created_at, e.created_by)
        rows.append(Row(cells, e.ref, marked=is_default, tips=tips, sort=sort))
    return rows


def package_rows(env: Environment | None) -> list[Row]:
    """What the build found installed in a version, by (normalised) name."""
    if env is None:
        return []
    return [Row((name, version), name) for name, version in sorted(package_map(env.packages).items())]


def details_text(env: Environment) -> str:
    """A version in a few lines, over its packages: what it is, where it came from, what built it."""
    lines = [f"<b>{env.ref}</b> — {env.kind} environment, {env.state}"]
    lines.append(f"digest {env.digest[: 2 * DIGEST_SHOWN]}… (whole in its definition)")
    if env.source:
        lines.append(f"made from {env.source}")
    if env.image_id:
        lines.append(f"image {env.image_id}")
    if env.build_run:
        lines.append(f"built by run {env.build_run}")
    return "<br>".join(lines)


def summary_text(project: str, envs: Sequence[Environment], default: str) -> str:
    if not envs:
        return f"no environments in {project} yet: kiln env create makes one"
    names = len({e.name for e in envs})
    text = f"{names} environment{'s' if names != 1 else ''}, {len(envs)} version{'s' if len(envs) != 1 else ''}"
    return f"{text}; project default: {default or 'none (runs use the node’s Python or their image)'}"


@dataclass(frozen=True)
class Choice:
    """One entry of the launch dialog's environment picker: what it says, the environment it submits
    (`ref`; "" lets the coordinator decide: the project default, else none), whether it can be chosen."""

    text: str
    ref: str = ""
    enabled: bool = True
    tip: str = ""
    kind: str = ""  # python or docker, for a version


def picker_choices(envs: Sequence[Environment], default: str) -> list[Choice]:
    """The project default, none, then every version (by name, newest first): the ready ones to choose,
    the others shown disabled with their state."""
    none = Choice("none (the node's Python)", NO_ENVIRONMENT, tip="runs in no environment, whatever the default")
    if default:
        pinned = "the coordinator pins it to its version when the run is submitted"
        first = Choice(f"(project default: {default})", PROJECT_DEFAULT, tip=pinned)
    else:
        first = Choice("(project default: none)", PROJECT_DEFAULT, tip="the project has no default environment")
    choices = [first, none]
    for e in sorted(envs, key=lambda e: (e.name, -e.version)):
        ready = e.state is BuildState.READY
        text = f"{e.ref} ({e.kind})" if ready else f"{e.ref} ({e.kind}) — {e.state}"
        tip = e.reason if e.state is BuildState.FAILED else ("" if ready else "still building; not yet usable")
        choices.append(Choice(text, e.ref, ready, tip, str(e.kind)))
    return choices


def submitted_ref(choice: str) -> str:
    """What RunSpec.environment gets for a picker entry's ref: "" for the default (the coordinator applies
    it), "none" for none (whatever the default), else the version."""
    if choice == PROJECT_DEFAULT:
        return ""
    return "none" if choice == NO_ENVIRONMENT else choice
