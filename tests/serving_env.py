"""A Kiln Docker environment for serving tests: an image built FROM the local Python test image with numpy,
scipy, scikit-learn, joblib and threadpoolctl installed from wheel files, without any network.

`scripts/setup-test-host` makes both things this needs: the image kiln-test/python:1 (a debootstrap of
Debian bookworm, Python 3.11.2, with pip) and the wheels for CPython 3.11 on manylinux x86_64 in
$KILN_TEST_WHEELS (default ~/.cache/kiln-test/wheels). `serving_ready()` says plainly when either is missing
(a skip on a laptop, a failure in CI); `create_serving_env()` builds the environment through the CLI, as
a person would with `kiln env create NAME --dockerfile PATH`.

The build context is the Dockerfile's folder, pushed to the coordinator as a snapshot and materialized on
the building node, so the wheels are linked (or copied) into a fresh context folder next to the
Dockerfile. They are installed in a first stage and only the installed packages are copied into the
image, so the wheel files themselves (about 60 MB) are not a layer of it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import Cli, need

PYTHON_IMAGE = "kiln-test/python:1"
SERVING_ENV = "serving"
# What a serving image holds; their dependencies (scikit-learn's, today) come from the same wheel folder.
REQUIREMENTS = ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl")
# Where the image's Python finds packages it did not get from Debian (Debian's pip, as root, installs here).
SITE_PACKAGES = "/usr/local/lib/python3.11/dist-packages"


def wheels_dir() -> Path:
    return Path(os.environ.get("KILN_TEST_WHEELS") or Path.home() / ".cache" / "kiln-test" / "wheels")


def dockerfile(image: str = PYTHON_IMAGE) -> str:
    """Installs the requirements from the context's wheels/ folder with pip and no index (pip resolves
    their dependencies there, and fails plainly when one is missing) into one flat folder, --target, that
    the second stage copies whole into the site-packages of the image's Python. (Installing into that
    Python directly would need --break-system-packages: it is Debian's, marked externally managed.)"""
    return (
        f"FROM {image} AS wheels\n"
        "COPY wheels /tmp/wheels\n"
        "RUN python3 -m pip install --no-index --find-links /tmp/wheels --no-cache-dir"
        " --disable-pip-version-check --target /tmp/site " + " ".join(REQUIREMENTS) + " && rm -rf /tmp/site/bin\n"
        f"FROM {image}\n"
        f"COPY --from=wheels /tmp/site {SITE_PACKAGES}\n"
    )


def serving_ready() -> list[Path]:
    """The wheel files, once the Docker engine, the Python test image and the wheels are all there;
    otherwise a skip that says which is missing (a failure under CI=true)."""
    from kiln.agent.runtimes.base import RuntimeUnavailable
    from kiln.agent.runtimes.docker import DockerRuntime

    try:
        DockerRuntime.probe()
    except RuntimeUnavailable as e:
        need(False, f"a Docker engine ({e}); run scripts/setup-test-host")
    import docker

    client = docker.from_env()
    try:
        client.images.get(PYTHON_IMAGE)
    except docker.errors.ImageNotFound:
        need(False, f"the test image {PYTHON_IMAGE} (scripts/setup-test-host builds it with debootstrap)")
    finally:
        client.close()
    folder = wheels_dir()
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    # A wheel file's name starts with its project's name, '-' made '_', and a '-'.
    missing = [r for r in REQUIREMENTS if not any(w.name.startswith(r.replace("-", "_") + "-") for w in wheels)]
    need(not missing, f"wheels for {', '.join(missing)} in {folder} (scripts/setup-test-host downloads them)")
    return wheels


def serving_context(folder: Path, wheels: list[Path], image: str = PYTHON_IMAGE) -> Path:
    """A build context in `folder` (created): the Dockerfile and wheels/ with the wheel files, hard-linked
    where the file system allows it; returns the Dockerfile's path."""
    (folder / "wheels").mkdir(parents=True)
    for wheel in wheels:
        target = folder / "wheels" / wheel.name
        try:
            os.link(wheel, target)
        except OSError:
            shutil.copyfile(wheel, target)
    path = folder / "Dockerfile"
    path.write_text(dockerfile(image))
    return path


def create_serving_env(
    cli: Cli, folder: Path, wheels: list[Path], project: str = "p", name: str = SERVING_ENV
) -> dict[str, Any]:
    """Builds the Docker environment `name` in `project` on the cluster's Docker node (the CLI waits for the
    build) and returns it as `kiln env create --json` prints it; fails with the build's log if it did not
    become ready."""
    path = serving_context(folder, wheels)
    created = cli("env", "create", name, "-p", project, "--dockerfile", str(path), "--json")
    env: dict[str, Any] = json.loads(created.out) if created.out.strip() else {}
    if created.code != 0 or env.get("state") != "ready":
        log = cli("env", "log", name, "-p", project)
        raise AssertionError(
            f"environment {name} did not build ({env.get('state')}: {env.get('reason')}): {created.err}\n"
            f"its build log:\n{log.out}{log.err}"
        )
    return env
