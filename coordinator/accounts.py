"""Users, passwords, sign-in and API tokens."""

from __future__ import annotations

import math

from kiln.coordinator.access import require_admin
from kiln.coordinator.identity import (
    generate_password,
    hash_password,
    new_token,
    secret_hash,
    verify_password,
)
from kiln.coordinator.pki import certificate_fingerprint
from kiln.coordinator.store import SqliteStore
from kiln.core import clock, defaults
from kiln.core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from kiln.core.models import Token, User
from kiln.core.names import check_name
from kiln.core.permissions import Principal

TOUCH_INTERVAL_S = 60.0


def ensure_bootstrap_admin(store: SqliteStore, password: str | None) -> str | None:
    """Creates the first admin on an empty database; returns the generated password to show once."""
    if store.count_users():
        return None
    generated = password is None
    secret = generate_password() if password is None else _check_password(password)
    with store.transaction():
        store.add_user(defaults.BOOTSTRAP_ADMIN, hash_password(secret), is_admin=True)
        store.append_audit(
            "system",
            "user.bootstrap",
            defaults.BOOTSTRAP_ADMIN,
            {"password": "generated" if generated else "from file"},
        )
    return secret if generated else None


class Authenticator:
    """Turns a bearer secret into the caller, refusing unknown, revoked, expired and disabled ones."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._touched: dict[str, float] = {}

    def principal(self, secret: str) -> Principal:
        token = self.store.token_by_secret_hash(secret_hash(secret))
        now = clock.now()
        if token is None:
            raise Unauthenticated("the token is not known to this coordinator; sign in again (kiln login)")
        if token.revoked_at:
            raise Unauthenticated(f"token {token.id} was revoked; sign in again (kiln login)")
        if token.expires_at <= now:
            raise Unauthenticated(
                f"token {token.id} expired at {clock.iso(token.expires_at)}; sign in again (kiln login)"
            )
        user = self.store.user(token.user)
        if user is None or user.disabled:
            raise Unauthenticated(f"user {token.user!r} is disabled; ask an admin")
        if now - self._touched.get(token.id, 0.0) > TOUCH_INTERVAL_S:
            self._touched[token.id] = now
            self.store.touch_token(token.id, now)
        return Principal(user.name, user.is_admin, token.id)

    def node(self, name: str, certificate_pem: bytes) -> Principal:
        """The node a verified client certificate names, if it is the certificate that node enrolled with
        (a removed node, or one enrolled again since, is refused)."""
        expected = self.store.node_fingerprint(name)
        if expected is None:
            raise Unauthenticated(f"node {name!r} is not enrolled here (removed?); enrol it again with a join token")
        if certificate_fingerprint(certificate_pem) != expected:
            raise Unauthenticated(f"this is not the certificate node {name!r} enrolled with; enrol it again")
        return Principal.for_node(name)


def login(store: SqliteStore, name: str, password: str, token_name: str) -> tuple[str, Token, User]:
    stored = store.password_hash(name)
    user = store.user(name)
    if stored is None or user is None or not verify_password(password, stored):
        store.append_audit(name or "?", "auth.login_failed", name, {})
        raise Unauthenticated("wrong user name or password")
    if user.disabled:
        raise Unauthenticated(f"user {name!r} is disabled; ask an admin")
    with store.transaction():
        secret, token = _mint(store, name, token_name or "session", defaults.SESSION_TOKEN_TTL_S)
        store.append_audit(name, "auth.login", name, {"token": token.id})
    return secret, token, user


def whoami(store: SqliteStore, who: Principal) -> tuple[User, Token]:
    """The signed-in user and the token they called with."""
    user, token = store.user(who.user), store.token(who.token_id)
    if user is None or token is None:
        raise Unauthenticated("this session is no longer valid; run kiln login")
    return user, token


def logout(store: SqliteStore, who: Principal) -> None:
    with store.transaction():
        store.revoke_token(who.token_id, clock.now())
        store.append_audit(who.user, "auth.logout", who.user, {"token": who.token_id})


def create_user(store: SqliteStore, who: Principal, name: str, password: str, is_admin: bool) -> User:
    require_admin(who, "creating a user")
    check_name("user", name)
    _check_password(password)
    if store.user(name):
        raise AlreadyExists(f"user {name!r} already exists")
    with store.transaction():
        user = store.add_user(name, hash_password(password), is_admin)
        store.append_audit(who.user, "user.create", name, {"admin": is_admin})
    return user


def list_users(store: SqliteStore, who: Principal) -> list[User]:
    require_admin(who, "listing users")
    return store.users()


def set_password(store: SqliteStore, who: Principal, name: str, old: str, new: str) -> None:
    name = name or who.user
    if name != who.user:
        require_admin(who, "resetting another user's password")
    elif not verify_password(old, store.password_hash(name) or ""):
        raise PermissionDenied("the current password is wrong")
    _existing(store, name)
    _check_password(new)
    with store.transaction():
        store.set_password_hash(name, hash_password(new))
        store.append_audit(who.user, "user.password", name, {})


def set_user_disabled(store: SqliteStore, who: Principal, name: str, disabled: bool) -> User:
    require_admin(who, "disabling or enabling a user")
    _existing(store, name)
    if name == who.user and disabled:
        raise InvalidArgument("you cannot disable yourself; ask another admin")
    with store.transaction():
        store.set_user_disabled(name, disabled)
        store.append_audit(who.user, "user.disable" if disabled else "user.enable", name, {})
    return _existing(store, name)


def create_token(store: SqliteStore, who: Principal, name: str, ttl_s: float, user: str) -> tuple[str, Token]:
    owner = user or who.user
    if owner != who.user:
        require_admin(who, "creating a token for another user")
    _existing(store, owner)
    if not 0 <= ttl_s < math.inf:  # NaN fails this too
        raise InvalidArgument("token lifetime must be positive")
    with store.transaction():
        secret, token = _mint(store, owner, name or "api", ttl_s or defaults.API_TOKEN_TTL_S)
        store.append_audit(
            who.user,
            "token.create",
            token.id,
            {"user": owner, "name": token.name, "expires_at": token.expires_at},
        )
    return secret, token


def list_tokens(store: SqliteStore, who: Principal, user: str) -> list[Token]:
    if user and user != who.user:
        require_admin(who, "listing other users' tokens")
        return store.tokens(None if user == "*" else user)
    return store.tokens(who.user)


def revoke_token(store: SqliteStore, who: Principal, token_id: str) -> Token:
    token = store.token(token_id)
    if token is None:
        raise NotFound(f"no token {token_id!r} (kiln token list shows yours)")
    if token.user != who.user:
        require_admin(who, "revoking another user's token")
    with store.transaction():
        store.revoke_token(token_id, clock.now())
        store.append_audit(who.user, "token.revoke", token_id, {"user": token.user})
    revoked = store.token(token_id)
    assert revoked is not None
    return revoked


def _mint(store: SqliteStore, user: str, name: str, ttl_s: float) -> tuple[str, Token]:
    token_id, secret = new_token()
    now = clock.now()
    token = Token(token_id, user, name, now, now + ttl_s)
    store.add_token(token, secret_hash(secret))
    return secret, token


def _existing(store: SqliteStore, name: str) -> User:
    user = store.user(name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def _check_password(password: str) -> str:
    if len(password) < defaults.MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"password too short: use at least {defaults.MIN_PASSWORD_LENGTH} characters")
    return password
