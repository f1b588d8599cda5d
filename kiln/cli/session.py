"""The signed-in client for commands that talk to the coordinator."""

from __future__ import annotations

from pathlib import Path

from kiln.client import Client
from kiln.config import kiln_home, load_profile, load_token


def connect() -> Client:
    profile = load_profile()
    return Client(profile.server, profile.ca_pem.encode(), load_token(profile))


def cache_dir() -> Path:
    return kiln_home() / "cache"
