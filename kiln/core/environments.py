"""Environments: the software a run runs in, as a versioned entity of a project.

An environment version is either a Python environment, defined by a lock (exact versions and hashes, as
`uv pip compile --generate-hashes` writes it) and a Python version, or a Docker image, defined by a
Dockerfile and its context (a snapshot of the project). Its digest is the SHA-256 of that definition, so
creating the same definition again gives the version that already has it, and a changed one the next
version. Each version is built once, by a build run the coordinator queues on a node that can (its log is
the build log): a Python environment is then rebuilt on any other node from its hash-checked lock, a Docker
image is saved into the coordinator's blob store (an image snapshot: the members of `docker save`, each
content-addressed, so layers two versions share are stored once) and loaded from there by nodes that lack it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from kiln.core import limits
from kiln.core.errors import InvalidArgument
from kiln.core.hashing import canonical_json, sha256_bytes
from kiln.core.names import check_name


class EnvKind(StrEnum):
    PYTHON = "python"
    DOCKER = "docker"


class BuildState(StrEnum):
    BUILDING = "building"  # its build run is queued or running
    READY = "ready"
    FAILED = "failed"


# What the records of a run say about its environment (keys of the run's environment map).
RECORD_ENVIRONMENT = "environment"  # NAME:VERSION
RECORD_DIGEST = "environment_digest"
RECORD_PYTHON = "python"
RECORD_PACKAGES = "packages"  # one name==version a line, sorted (as kiln.track records them)
RECORD_IMAGE_ID = "image_id"
RECORD_IMAGE_SNAPSHOT = "image_snapshot"  # what a build run reports of a Docker image it saved
RECORD_IMAGE_BYTES = "image_bytes"

DEFINITION = limits.Limit("environment definition", 1 * limits.MiB)
PYTHON_VERSION = re.compile(r"3\.\d{1,2}(\.\d{1,3})?")
# The process runtime runs a Python environment, the Docker runtime a Docker one.
RUNTIME_OF = {EnvKind.PYTHON: "process", EnvKind.DOCKER: "docker"}


@dataclass(frozen=True)
class Definition:
    """What defines a version, and so its digest."""

    kind: EnvKind
    text: str  # the lock (python) or the Dockerfile (docker)
    python: str = ""  # python: the version asked for (3.11); docker: ""
    context: str = ""  # docker: the snapshot id of the build context ("" for none)

    @property
    def digest(self) -> str:
        return sha256_bytes(
            canonical_json({"kind": str(self.kind), "text": self.text, "python": self.python, "context": self.context})
        )


class _Versioned:
    """What an environment version and a node's view of one share: `name:version`, and the digest of
    what it is made from."""

    name: str
    version: int
    definition: Definition

    @property
    def digest(self) -> str:
        return self.definition.digest

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Environment(_Versioned):
    """One version of an environment."""

    project: str
    name: str
    version: int
    definition: Definition
    state: BuildState = BuildState.BUILDING
    created_by: str = ""
    created_at: float = 0.0
    build_run: str = ""  # the run that built it; its log is the build log
    reason: str = ""  # why the build failed
    source: str = ""  # what it was made from, in words (requirements.txt, pyproject.toml, Dockerfile)
    # Found by the build, from the environment itself:
    python_version: str = ""  # 3.11.2; "" for an image without Python
    packages: tuple[str, ...] = ()  # name==version, sorted
    image_id: str = ""  # docker: the engine's image id (sha256:…)
    image_snapshot: str = ""  # docker: the snapshot holding the saved image
    size_bytes: int = 0  # docker: the saved image's size
    cached_on: tuple[str, ...] = ()  # nodes that hold it built now (as they last said)

    @property
    def kind(self) -> EnvKind:
        return self.definition.kind


@dataclass(frozen=True)
class EnvironmentRef(_Versioned):
    """What a node is told of the environment a run uses (or builds)."""

    name: str
    version: int
    definition: Definition
    image_id: str = ""
    image_snapshot: str = ""
    build: bool = False  # this run builds the environment rather than running in it


@dataclass(frozen=True)
class EnvironmentDiff:
    """Packages that differ between two environments (or two runs): name -> (version in a, version in b),
    "" where one lacks the package."""

    a: str
    b: str
    packages: dict[str, tuple[str, str]] = field(default_factory=dict)
    python: tuple[str, str] = ("", "")


def parse_ref(text: str) -> tuple[str, int | None]:
    """NAME or NAME:VERSION (NAME@VERSION too), checked; version None for the latest."""
    name, sep, version = text.replace("@", ":").partition(":")
    check_name("environment", name)
    if not sep:
        return name, None
    if not version.isdigit() or not 0 < int(version) < 2**31:
        raise InvalidArgument(f"invalid environment version {limits.preview(version)}: use NAME or NAME:VERSION")
    return name, int(version)


def check_definition(d: Definition) -> Definition:
    if d.kind not in set(EnvKind):
        raise InvalidArgument(f"environment kind must be one of {', '.join(EnvKind)}")
    DEFINITION.check_amount(limits.utf8_size(d.text))
    if "\0" in d.text:
        raise InvalidArgument("an environment definition cannot contain a NUL character")
    if not d.text.strip():
        what = "lock" if d.kind is EnvKind.PYTHON else "Dockerfile"
        raise InvalidArgument(f"the environment's {what} is empty")
    if d.kind is EnvKind.PYTHON:
        if not PYTHON_VERSION.fullmatch(d.python):
            raise InvalidArgument(f"invalid Python version {limits.preview(d.python)}: use e.g. 3.11 or 3.11.2")
        if d.context:
            raise InvalidArgument("a Python environment has no build context")
    else:
        if d.python:
            raise InvalidArgument("a Docker environment takes its Python from its image: leave --python out")
        limits.REFERENCE.check(d.context, field="context snapshot")
    return d


def package_map(packages: tuple[str, ...] | list[str] | str) -> dict[str, str]:
    """normalised name -> version of `name==version` lines."""
    lines = packages.splitlines() if isinstance(packages, str) else list(packages)
    found: dict[str, str] = {}
    for line in lines:
        name, sep, version = line.strip().partition("==")
        if sep and name:
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def diff_packages(a: dict[str, str], b: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The packages whose versions differ (or that one side lacks), sorted by name."""
    return {n: (a.get(n, ""), b.get(n, "")) for n in sorted(a.keys() | b.keys()) if a.get(n) != b.get(n)}
