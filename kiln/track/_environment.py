"""What the run's Python looked like, sent once per process with its first batch: enough to rebuild the
environment (interpreter, platform, a pip-freeze equivalent) without running pip inside the run."""

from __future__ import annotations

import platform
import re
import sys


def installed_packages() -> list[str]:
    """`name==version` for every distribution importlib.metadata sees on sys.path, sorted by name; the
    first one found wins where a name is installed twice (as import would pick it)."""
    from importlib import metadata  # imported here: scanning sys.path is only needed once per process

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # a broken .dist-info must not stop the run's tracking
            continue
        if not name or version is None:
            continue
        found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={version}")
    return [found[k] for k in sorted(found)]


def describe() -> dict[str, str]:
    """A flat str -> str map (so it maps onto a protobuf map<string, string>); `packages` holds one
    `name==version` per line, like `pip freeze`."""
    env = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    try:
        env["packages"] = "\n".join(installed_packages())
    except Exception as e:  # the environment is a nicety; the run's metrics are not
        env["packages_error"] = f"{type(e).__name__}: {e}"
    return env
