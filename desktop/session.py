"""Signing in, as plain functions the dialogs run off the GUI thread: the same steps as `kiln login`
(pin the CA the person accepted, check the coordinator agrees, sign in, keep the token in the keyring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiln.client import Client
from kiln.config import Profile, forget_token, load_profile, load_token, save_profile, store_token
from kiln.core.errors import InvalidArgument, KilnError, PermissionDenied
from kiln.core.models import User
from kiln.pinning import PresentedCa, presented_ca

TOKEN_NAME = "desktop"


@dataclass
class Session:
    """A signed-in client and who it is; the window is built from it and closes it."""

    client: Client
    user: User
    profile: Profile
    warning: str | None = None  # said once, e.g. that the token went to a file for want of a keyring
    token: str = field(default="", repr=False)

    @property
    def server(self) -> str:
        return self.profile.server

    def connect(self) -> Client:
        """Another connection as the same user, for a call that may block for long (following a run's
        logs): closing it cancels that call without touching the session's own connection."""
        return Client(self.profile.server, self.profile.ca_pem.encode(), self.token)

    def close(self) -> None:
        self.client.close()


def saved_profile(home: Path) -> Profile | None:
    """The last server signed in to, to prefill the dialog."""
    try:
        return load_profile(home)
    except (KilnError, OSError, ValueError, TypeError):
        return None


def resume(home: Path) -> Session:
    """The saved profile and token, if they still work: the app then opens without asking anything."""
    profile = load_profile(home)
    token = load_token(profile, home)
    client = Client(profile.server, profile.ca_pem.encode(), token)
    try:
        user, _ = client.whoami()
    except BaseException:
        client.close()
        raise
    return Session(client, user, profile, token=token)


def check_server(address: str) -> PresentedCa:
    """The CA the server presents, to show its fingerprint before anything secret is sent."""
    address = address.strip()
    if not address:
        raise InvalidArgument("enter the coordinator's address, as HOST:PORT")
    return presented_ca(address)


def sign_in(home: Path, address: str, ca: PresentedCa, user: str, password: str, token: str) -> Session:
    """Signs in with a password (minting a token) or an API token, trusting only the accepted CA, and
    saves the profile and the token for next time."""
    with Client(address, ca.pem) as anonymous:
        if anonymous.server_info().ca_fingerprint != ca.fingerprint:
            raise PermissionDenied(
                "the coordinator's own CA fingerprint differs from the certificate it presents; "
                "do not sign in (the connection may be intercepted)"
            )
        if not token:
            if not user or not password:
                raise InvalidArgument("enter a user name and password, or an API token")
            token, _, _ = anonymous.login(user, password, TOKEN_NAME)
    client = Client(address, ca.pem, token)
    try:
        who, _ = client.whoami()
    except BaseException:
        client.close()
        raise
    profile = Profile(address, ca.fingerprint, ca.pem.decode(), who.name)
    save_profile(profile, home)
    warning = store_token(profile, token, home)
    return Session(client, who, profile, warning, token)


def sign_out(session: Session, home: Path) -> None:
    """Revokes the token on the coordinator if it can be reached, and forgets it here in any case."""
    try:
        session.client.logout()
    finally:
        forget_token(session.profile, home)
        session.close()
