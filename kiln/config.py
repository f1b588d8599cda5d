"""The client's saved state under KILN_HOME: which coordinator, its pinned CA, and who is signed in.

The token itself goes to the system keyring; only where no keyring backend exists does it fall back to
a 0600 file, and the caller is told so. keyring is imported only where a token is stored, read or forgotten
(it costs tens of milliseconds, and more to find its backend): a command signed in with KILN_TOKEN or by the
fallback file, or one that only reads the profile, never loads it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kiln.core.errors import Unauthenticated

KEYRING_SERVICE = "kiln"
TOKEN_ENV = "KILN_TOKEN"


def kiln_home() -> Path:
    return Path(os.environ.get("KILN_HOME") or Path.home() / ".config" / "kiln").expanduser()


@dataclass(frozen=True)
class Profile:
    server: str
    fingerprint: str
    ca_pem: str
    user: str = ""
    project: str = ""  # the default project of this KILN_HOME (kiln project use P); "" for none


def _profile_path(home: Path) -> Path:
    return home / "config.json"


def load_profile(home: Path | None = None) -> Profile:
    path = _profile_path(home or kiln_home())
    if not path.exists():
        raise Unauthenticated("not signed in to a coordinator: run kiln login HOST:PORT")
    data = json.loads(path.read_text())
    return Profile(**{k: v for k, v in data.items() if k in Profile.__dataclass_fields__})


def signed_in_profile(server: str, fingerprint: str, ca_pem: str, user: str, home: Path | None = None) -> Profile:
    """The profile of a new sign-in. It keeps the default project when it is to the same coordinator
    (a project of another coordinator means nothing there)."""
    previous = ""
    with contextlib.suppress(Unauthenticated, ValueError, TypeError, OSError):
        old = load_profile(home)
        previous = old.project if (old.server, old.fingerprint) == (server, fingerprint) else ""
    return Profile(server, fingerprint, ca_pem, user, previous)


PROJECT_ENV = "KILN_PROJECT"


def default_project(home: Path | None = None) -> tuple[str, str]:
    """The project a command uses when given no -p, and where that came from: $KILN_PROJECT, else the one
    set with `kiln project use`; ("", "") when there is none."""
    if os.environ.get(PROJECT_ENV):
        return os.environ[PROJECT_ENV], f"${PROJECT_ENV}"
    path = _profile_path(home or kiln_home())
    if not path.exists():
        return "", ""
    project = load_profile(home).project
    return (project, "kiln project use") if project else ("", "")


def set_default_project(project: str, home: Path | None = None) -> Profile:
    """Sets (or with "" clears) this KILN_HOME's default project."""
    from dataclasses import replace

    profile = replace(load_profile(home), project=project)
    save_profile(profile, home)
    return profile


def save_profile(profile: Profile, home: Path | None = None) -> None:
    from kiln.core.atomic import atomic_write

    atomic_write(_profile_path(home or kiln_home()), json.dumps(asdict(profile), indent=2).encode(), 0o600)


def _account(home: Path, profile: Profile) -> str:
    # The home is part of the key so two KILN_HOMEs on one machine keep separate sign-ins.
    return f"{profile.user}@{profile.server} ({home.resolve()})"


def _token_file(home: Path) -> Path:
    return home / "token"


def _read_token_file(home: Path) -> str | None:
    try:
        return _token_file(home).read_text().strip()
    except FileNotFoundError:
        return None


def _backend_file(home: Path) -> Path:
    return home / "keyring-backend"


def _keyring(home: Path) -> Any:
    """keyring, with the backend that holds this home's token loaded directly when it is known: finding a
    backend imports every one installed, about 100 ms, on every command otherwise."""
    import keyring
    import keyring.core

    known = _backend_file(home)
    if not os.environ.get("PYTHON_KEYRING_BACKEND") and known.exists():
        with contextlib.suppress(Exception):  # gone or broken since: keyring finds one itself
            keyring.set_keyring(keyring.core.load_keyring(known.read_text().strip()))
    return keyring


def store_token(profile: Profile, token: str, home: Path | None = None) -> str | None:
    """Saves the token; returns a warning to show when it had to go to a file instead of the keyring."""
    import keyring.errors

    from kiln.core.atomic import atomic_write

    home = home or kiln_home()
    keyring = _keyring(home)
    try:
        keyring.set_password(KEYRING_SERVICE, _account(home, profile), token)
        _token_file(home).unlink(missing_ok=True)
        backend = type(keyring.get_keyring())
        atomic_write(_backend_file(home), f"{backend.__module__}.{backend.__qualname__}".encode(), 0o600)
        return None
    except keyring.errors.KeyringError:
        atomic_write(_token_file(home), token.encode(), 0o600)
        return (
            f"no system keyring is available; the token was saved to {_token_file(home)} "
            "(readable only by you). Install a keyring backend to keep it out of files."
        )


def load_token(profile: Profile, home: Path | None = None) -> str:
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    home = home or kiln_home()
    # The file exists only where the last sign-in found no keyring (one that did removed it), so it is read
    # first: then keyring, which would only look through every backend and find none, is never loaded.
    token = _read_token_file(home)
    if not token:
        import keyring.errors

        keyring = _keyring(home)
        with contextlib.suppress(keyring.errors.KeyringError):
            token = keyring.get_password(KEYRING_SERVICE, _account(home, profile))
    if not token:
        raise Unauthenticated(f"no saved sign-in for {profile.user}@{profile.server}: run kiln login")
    return token


def forget_token(profile: Profile, home: Path | None = None) -> None:
    import keyring.errors

    home = home or kiln_home()
    with contextlib.suppress(keyring.errors.KeyringError):
        _keyring(home).delete_password(KEYRING_SERVICE, _account(home, profile))
    _token_file(home).unlink(missing_ok=True)
