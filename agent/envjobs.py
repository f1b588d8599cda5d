"""What a job does with its environment: a build run builds one (its log is the run's output), any other run
gets the one it names ready on this node before it starts (from the node's cache, else built from its lock
or loaded from the coordinator's saved image), and every run's record says what it ran in, taken from the
environment itself, whether or not the job imports the SDK."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.agent import environments as envs
from kiln.agent import images
from kiln.agent.runtimes import JobSpec
from kiln.agent.workspace import materialize
from kiln.core import environments as model
from kiln.core.environments import EnvironmentRef, EnvKind
from kiln.core.errors import FailedPrecondition

if TYPE_CHECKING:
    from kiln.agent.jobs import Job

log = logging.getLogger("kiln.agent.envjobs")

PROGRESS_EVERY_S = 2.0  # at most one progress event this often while preparing


@dataclass
class Prepared:
    """What a run's environment adds to its job, and to its record."""

    image: str = ""
    python_env: Path | None = None
    facts: dict[str, str] | None = None


# environment digest or image id -> what describing it found: neither names other content later
_described: dict[str, dict[str, str]] = {}
_described_lock = threading.Lock()


def described(key: str, describe: Callable[[], dict[str, str]]) -> dict[str, str]:
    with _described_lock:
        found = _described.get(key)
    if found is None:
        found = describe()
        with _described_lock:
            _described[key] = found
    return found


class Progress:
    """The preparing run's events: a line now and then, not every line of a build."""

    def __init__(self, job: Job, what: str) -> None:
        self.job, self.what, self.last = job, what, 0.0

    def __call__(self, line: str) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S and line.strip():
            self.last = now
            self.job.progress(f"{self.what}: {line.strip()[:300]}")


def prepare(job: Job, ref: EnvironmentRef) -> Prepared:
    """The run's environment, ready on this node (the cache marks it in use until `release`)."""
    node = job.node
    if ref.definition.kind is EnvKind.PYTHON:
        held = ref.digest in node.envs.held()
        job.progress(f"environment {ref.ref}: " + ("on this node" if held else "building it here from its lock"))
        venv = node.envs.python(ref, node.index, Progress(job, f"environment {ref.ref}"))
        facts = described(ref.digest, lambda: envs.describe_python(venv / "bin" / "python"))
        return Prepared(python_env=venv, facts={**_named(ref), **facts})
    client = docker_client(job)
    held = ref.digest in node.envs.held()
    doing = "image on this node" if held else "loading its image from the coordinator"
    job.progress(f"environment {ref.ref}: {doing}")

    def fetch_image(folder: Path) -> None:
        job.retrying(
            lambda c: materialize(c, node.cache, job.spec.project, ref.image_snapshot, folder, job.dir / "imagecache")
        )

    image = node.envs.docker(ref, client, fetch_image, Progress(job, f"environment {ref.ref}"))
    facts = described_image(job, image)
    return Prepared(image=image, facts={**_named(ref), model.RECORD_IMAGE_ID: image, **facts})


def release(job: Job, ref: EnvironmentRef) -> None:
    job.node.envs.release(ref.digest)


def _named(ref: EnvironmentRef) -> dict[str, str]:
    return {model.RECORD_ENVIRONMENT: ref.ref, model.RECORD_DIGEST: ref.digest}


def described_image(job: Job, image: str) -> dict[str, str]:
    """What the image `image` (an id) holds, described once per node (see `described`)."""
    client = docker_client(job)
    return described(image, lambda: images.describe_image(client, image, images.SDK_FILE, job.node.name))


def docker_client(job: Job) -> Any:
    runtime = job.node.runtimes.get("docker")
    if runtime is None:
        raise FailedPrecondition("this node has no docker runtime, which Docker environments need")
    return runtime.client()  # type: ignore[attr-defined]


def with_environment(spec: JobSpec, prepared: Prepared) -> JobSpec:
    if prepared.image:
        return replace(spec, image=prepared.image)
    if prepared.python_env is not None:
        return replace(spec, python_env=prepared.python_env)
    return spec


def build(job: Job, ref: EnvironmentRef) -> dict[str, str]:
    """Builds the environment of a build run, writing the build log as the run's output; returns what the
    run's record (and so the environment version) learns of it. BuildFailed says why it failed."""

    def say(line: str) -> None:
        job.output("stdout", (line.rstrip("\n") + "\n").encode())

    node = job.node
    if ref.definition.kind is EnvKind.PYTHON:
        say(f"building environment {ref.ref} (Python {ref.definition.python}) from its lock on {node.name}")
        venv = node.envs.python(ref, node.index, say)
        try:
            facts = envs.describe_python(venv / "bin" / "python")
        finally:
            node.envs.release(ref.digest)
        say(f"built: Python {facts.get('python', '?')}, {len(facts.get('packages', '').splitlines())} packages")
        return {**_named(ref), **facts}
    client = docker_client(job)
    say(f"building image of environment {ref.ref} on {node.name}")
    image = images.build_image(client, job.workdir, ref.definition.text, images.image_tag(ref.digest), say)
    facts = images.describe_image(client, image, images.SDK_FILE, job.node.name)
    say(f"built {image}; saving it into the coordinator's store")
    folder = Path(tempfile.mkdtemp(prefix="image-", dir=job.dir))
    try:
        size = images.save_image(client, image, folder)
        from kiln.sync.push import push

        pushed = job.retrying(
            lambda c: push(c, folder, job.spec.project, f"image of environment {ref.ref}", job.dir / "imagecache")
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    say(f"saved: {size} bytes as snapshot {pushed.snapshot.id[:12]} ({pushed.bytes_uploaded} bytes uploaded)")
    node.envs.docker(_with_image(ref, image), client, lambda _: None, say)  # kept in this node's cache
    node.envs.release(ref.digest)
    return {
        **_named(ref),
        **facts,
        model.RECORD_IMAGE_ID: image,
        model.RECORD_IMAGE_SNAPSHOT: pushed.snapshot.id,
        model.RECORD_IMAGE_BYTES: str(size),
    }


def _with_image(ref: EnvironmentRef, image: str) -> EnvironmentRef:
    return replace(ref, image_id=image)


def job_python(spec: JobSpec) -> str:
    """The interpreter a process job without an environment runs: its command's, if that is a Python,
    else python3 on its PATH ("" when there is none)."""
    first = spec.command[0] if spec.command else ""
    if Path(first).name.startswith("python"):
        return shutil.which(first) or ""
    return shutil.which("python3") or ""
