"""`kiln user …`, `kiln token …`, `kiln audit …`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kiln.cli.common import add_json, command, group, read_secret
from kiln.cli.output import emit_json, emit_json_stream, info, stream_table, table, when
from kiln.cli.session import connect
from kiln.core.audit import format_anchor
from kiln.core.errors import InvalidArgument
from kiln.core.models import Token
from kiln.core.units import parse_duration


def register(sub: Any) -> None:
    g = group(sub, "user", "manage users (admins)")
    p = command(g, "create", "create a user", user_create)
    p.add_argument("name")
    p.add_argument("--admin", action="store_true", help="make the user a global admin")
    p.add_argument("--password-stdin", action="store_true")
    add_json(command(g, "list", "list users", user_list))
    p = command(g, "passwd", "change your password, or (admins) reset another user's", user_passwd)
    p.add_argument("name", nargs="?", default="")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new password (your own change: the current, then the new) from stdin",
    )
    for name, disabled in (("disable", True), ("enable", False)):
        p = command(g, name, f"{name} a user", user_disable)
        p.add_argument("name")
        p.set_defaults(disabled=disabled)

    g = group(sub, "token", "API tokens for automation")
    p = command(g, "create", "create an API token (the secret is shown once)", token_create)
    p.add_argument("--name", default="api")
    p.add_argument("--expires", default="90d", help="lifetime, e.g. 12h, 30d (default 90d)")
    p.add_argument("--user", default="", help="(admins) create it for another user")
    add_json(p)
    p = command(g, "list", "list your tokens", token_list)
    p.add_argument("--user", default="", help="(admins) another user's tokens")
    p.add_argument("--all", action="store_true", help="(admins) everyone's tokens")
    add_json(p)
    p = command(g, "revoke", "revoke a token by id", token_revoke)
    p.add_argument("id")

    g = group(sub, "audit", "the tamper-evident audit log (admins)")
    p = command(g, "list", "audit records, oldest first", audit_list)
    p.add_argument("--after", type=int, default=0, metavar="SEQ")
    p.add_argument("--limit", type=int, default=100, help="at most this many records (0: every one)")
    p.add_argument("--actor", default="")
    p.add_argument("--action", default="", help="action prefix, e.g. project.")
    add_json(p)
    p = command(
        g,
        "verify",
        "check the hash chain, its signatures and checkpoints (and an anchor); exit 1 on any finding",
        audit_verify,
    )
    p.add_argument(
        "--anchor",
        default="",
        metavar="HEAD",
        help="a line `kiln audit anchor` printed earlier (or @FILE holding it): the log must still reach it",
    )
    add_json(p)
    add_json(
        command(g, "anchor", "sign the current head: a line to keep off this host, for verify --anchor", audit_anchor)
    )


def user_create(args: argparse.Namespace) -> int:
    password = read_secret(args.password_stdin, f"Password for {args.name}: ", confirm=True)
    with connect() as client:
        user = client.create_user(args.name, password, args.admin)
    print(f"created user {user.name}{' (admin)' if user.is_admin else ''}")
    return 0


def user_list(args: argparse.Namespace) -> int:
    with connect() as client:
        users = client.list_users()
    if args.json:
        emit_json(
            [
                {
                    "name": u.name,
                    "admin": u.is_admin,
                    "disabled": u.disabled,
                    "created_at": when(u.created_at),
                }
                for u in users
            ]
        )
    else:
        table(
            ["NAME", "ADMIN", "DISABLED", "CREATED"],
            [(u.name, "yes" if u.is_admin else "", "yes" if u.disabled else "", when(u.created_at)) for u in users],
        )
    return 0


def user_passwd(args: argparse.Namespace) -> int:
    with connect() as client:
        me, _ = client.whoami()
        own = not args.name or args.name == me.name
        old = read_secret(args.password_stdin, "Current password: ") if own else ""
        new = read_secret(args.password_stdin, "New password: ", confirm=not args.password_stdin)
        client.set_password(new, old, args.name)
    print("password changed")
    return 0


def user_disable(args: argparse.Namespace) -> int:
    with connect() as client:
        user = client.set_user_disabled(args.name, args.disabled)
    print(f"{user.name} {'disabled' if user.disabled else 'enabled'}")
    return 0


def _token_dict(t: Token) -> dict[str, object]:
    return {
        "id": t.id,
        "user": t.user,
        "name": t.name,
        "created_at": when(t.created_at),
        "expires_at": when(t.expires_at),
        "revoked_at": when(t.revoked_at) or None,
        "last_used_at": when(t.last_used_at) or None,
    }


def token_create(args: argparse.Namespace) -> int:
    try:
        ttl = parse_duration(args.expires)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    with connect() as client:
        secret, token = client.create_token(args.name, ttl, args.user)
    if args.json:
        emit_json({**_token_dict(token), "secret": secret})
    else:
        print(f"token {token.id} for {token.user}, expires {when(token.expires_at)}; the secret (shown once):")
        print(secret)
    return 0


def token_list(args: argparse.Namespace) -> int:
    with connect() as client:
        tokens = client.list_tokens("*" if args.all else args.user)
    if args.json:
        emit_json([_token_dict(t) for t in tokens])
    else:
        table(
            ["ID", "USER", "NAME", "CREATED", "EXPIRES", "REVOKED", "LAST USED"],
            [
                (
                    t.id,
                    t.user,
                    t.name,
                    when(t.created_at),
                    when(t.expires_at),
                    when(t.revoked_at),
                    when(t.last_used_at),
                )
                for t in tokens
            ],
        )
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    with connect() as client:
        token = client.revoke_token(args.id)
    print(f"token {token.id} revoked")
    return 0


def audit_list(args: argparse.Namespace) -> int:
    """The records page by page as the coordinator sends them (the whole log with --limit 0)."""
    with connect() as client:
        pages = client.audit_pages(args.after, args.limit, args.actor, args.action)
        if args.json:
            emit_json_stream(
                {
                    "seq": r.seq,
                    "time": when(r.time),
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "details": json.loads(r.details_json),
                    "prev_hash": r.prev_hash,
                    "hash": r.hash,
                }
                for page in pages
                for r in page
            )
        else:
            stream_table(
                ["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS"],
                ([(r.seq, when(r.time), r.actor, r.action, r.target, r.details_json) for r in page] for page in pages),
            )
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    anchor = _anchor_text(args.anchor)
    with connect() as client:
        v = client.verify_audit(anchor)
    if args.json:
        emit_json(
            {
                "ok": v.ok,
                "records": v.records,
                "first_broken_seq": v.first_broken_seq or None,
                "reason": v.reason or None,
                "check": v.findings[0].check if v.findings else None,
                "findings": [{"check": f.check, "seq": f.seq, "message": f.message} for f in v.findings],
                "signed_seq": v.signed_seq,
                "key": v.key or None,
            }
        )
    elif v.ok:
        against = " and reaches the anchor" if anchor else ""
        print(f"audit chain intact: {v.records} records, signed through record {v.signed_seq}{against} (key {v.key})")
    else:
        print(f"audit chain BROKEN at record {v.first_broken_seq}: {v.reason}")
        for f in v.findings[1:]:
            print(f"  also ({f.check}) at record {f.seq}: {f.message}")
    return 0 if v.ok else 1


def _anchor_text(value: str) -> str:
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).expanduser().read_text()
    except OSError as e:
        raise InvalidArgument(f"cannot read the anchor from {value[1:]}: {e.strerror or e}") from None


def audit_anchor(args: argparse.Namespace) -> int:
    with connect() as client:
        cp = client.audit_anchor()
    line = format_anchor(cp)
    if args.json:
        emit_json(
            {
                "seq": cp.seq,
                "hash": cp.hash,
                "time": when(cp.time),
                "key": cp.key,
                "signature": cp.signature,
                "anchor": line,
            }
        )
        return 0
    info(f"audit head: record {cp.seq} (hash {cp.hash[:16]}…), signed {when(cp.time)} with audit key {cp.key}")
    info("keep the line below off this host; `kiln audit verify --anchor LINE` then shows the log still reaches it")
    print(line)
    return 0
