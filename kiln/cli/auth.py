"""`kiln login`, `logout`, `whoami`."""

from __future__ import annotations

import argparse
from typing import Any

from kiln.cli.common import add_json, ask, command, read_secret
from kiln.cli.output import emit_json, info, warn, when
from kiln.cli.session import connect
from kiln.core.errors import InvalidArgument, KilnError, PermissionDenied


def register(sub: Any) -> None:
    p = command(sub, "login", "sign in to a coordinator, pinning its CA", login)
    p.add_argument("address", metavar="HOST:PORT")
    p.add_argument("--user", "-u", help="user name (asked for when omitted)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument(
        "--token-stdin",
        action="store_true",
        help="sign in with an existing API token read from standard input instead of a password",
    )
    p.add_argument(
        "--fingerprint",
        metavar="SHA256:…",
        help="the CA fingerprint to expect (kiln coordinator fingerprint prints it); "
        "without it you are shown the fingerprint and asked",
    )
    command(sub, "logout", "revoke this sign-in's token and forget it", logout)
    add_json(command(sub, "whoami", "show who you are signed in as, and where", whoami))


def _trusted_ca(address: str, expected: str | None) -> tuple[bytes, str]:
    from kiln.config import load_profile
    from kiln.core.hashing import normalize_fingerprint
    from kiln.pinning import presented_ca

    ca = presented_ca(address)
    if expected:
        try:
            wanted = normalize_fingerprint(expected)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        if wanted != ca.fingerprint:
            raise PermissionDenied(
                f"the coordinator at {address} presents CA {ca.fingerprint}, not the {wanted} "
                "you expect: do not sign in (the connection may be intercepted); compare with "
                "`kiln coordinator fingerprint` on the coordinator"
            )
        return ca.pem, ca.fingerprint
    try:
        previous = load_profile()
        if previous.server == address and previous.fingerprint == ca.fingerprint:
            return ca.pem, ca.fingerprint
    except KilnError:
        pass
    info(
        f"The coordinator at {address} presents CA {ca.subject!r}\n  fingerprint {ca.fingerprint}\n"
        "Compare it with `kiln coordinator fingerprint` on the coordinator."
    )
    if ask("Trust this coordinator? [y/N] ").lower() not in ("y", "yes"):
        raise PermissionDenied("not trusted; nothing was saved")
    return ca.pem, ca.fingerprint


def login(args: argparse.Namespace) -> int:
    from kiln.client import Client
    from kiln.config import save_profile, signed_in_profile, store_token

    if args.password_stdin and args.token_stdin:
        raise InvalidArgument("use either --password-stdin or --token-stdin, not both")
    ca_pem, fp = _trusted_ca(args.address, args.fingerprint)
    with Client(args.address, ca_pem) as anonymous:
        if anonymous.server_info().ca_fingerprint != fp:
            raise PermissionDenied("the coordinator's own CA fingerprint differs from the certificate it presents")
        if args.token_stdin:
            token = read_secret(True, "Token: ")
        else:
            user = args.user or ask("User: ")
            token, _, _ = anonymous.login(user, read_secret(args.password_stdin, f"Password for {user}: "))
    with Client(args.address, ca_pem, token) as client:
        user_obj, tok = client.whoami()
    profile = signed_in_profile(args.address, fp, ca_pem.decode(), user_obj.name)
    save_profile(profile)
    warning = store_token(profile, token)
    if warning:
        warn(warning)
    print(f"Signed in to {args.address} as {user_obj.name} (token {tok.id}, expires {when(tok.expires_at)})")
    return 0


def logout(args: argparse.Namespace) -> int:
    from kiln.config import forget_token, load_profile

    profile = load_profile()
    try:
        with connect() as client:
            client.logout()
    except KilnError as e:
        warn(f"could not revoke the token on the coordinator ({e}); forgetting it here anyway")
    forget_token(profile)
    print(f"Signed out of {profile.server}")
    return 0


def whoami(args: argparse.Namespace) -> int:
    from kiln.config import load_profile

    profile = load_profile()
    with connect() as client:
        user, token = client.whoami()
    data = {
        "user": user.name,
        "admin": user.is_admin,
        "server": profile.server,
        "fingerprint": profile.fingerprint,
        "token": token.id,
        "token_expires_at": when(token.expires_at),
    }
    if args.json:
        emit_json(data)
    else:
        role = " (admin)" if user.is_admin else ""
        print(f"{user.name}{role} on {profile.server}, token {token.id} expiring {data['token_expires_at']}")
    return 0
