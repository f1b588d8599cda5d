"""The signed-in client for commands that talk to the coordinator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiln.client import Client


def connect() -> Client:
    # Imported here, not at the top: registering a command (and `kiln X --help`) must not load grpc.
    from kiln.client import Client
    from kiln.config import load_profile, load_token

    profile = load_profile()
    return Client(profile.server, profile.ca_pem.encode(), load_token(profile))


def cache_dir() -> Path:
    from kiln.config import kiln_home

    return kiln_home() / "cache"
