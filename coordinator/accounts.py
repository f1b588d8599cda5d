"""Users, passwords, sign-in and API tokens."""

from __future__ import annotations

import math

from kiln.coordinator.access import require_admin
from kiln.coordinator.identity import (
    dummy_hash,
    generate_password,
    hash_password,
    new_token,
    secret_hash,
    verify_password,
)
from kiln.coordinator.pki import certificate_fingerprint
from kiln.coordinator.store import SqliteStore
from kiln.coordinator.throttle import SignInAttempt, SignInThrottle
from kiln.core import clock, defaults, limits
from kiln.core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from kiln.core.models import Token, User
from kiln.core.names import check_name
from kiln.core.paging import Page, PageRequest, page_of
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

    def __init__(self, store: SqliteStore, max_ttl_s: float = defaults.MAX_TOKEN_TTL_S) -> None:
        self.store = store
        # A token ends at the cap as it is now, even one minted under a longer cap before a restart.
        self.max_ttl_s = max_ttl_s
        self._touched: dict[str, float] = {}

    def principal(self, secret: str) -> Principal:
        token = self.store.token_by_secret_hash(secret_hash(secret))
        now = clock.now()
        if token is None:
            raise Unauthenticated("the token is not known to this coordinator; sign in again (kiln login)")
        user = self.store.user(token.user)
        if user is None or user.disabled:  # said first: signing in again would not help
            raise Unauthenticated(f"user {token.user!r} is disabled; ask an admin")
        if token.revoked_at:
            raise Unauthenticated(f"token {token.id} was revoked; sign in again (kiln login)")
        ends = min(token.expires_at, token.created_at + self.max_ttl_s)
        if ends <= now:
            raise Unauthenticated(f"token {token.id} expired at {clock.iso(ends)}; sign in again (kiln login)")
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


def login(
    store: SqliteStore,
    name: str,
    password: str,
    token_name: str,
    attempt: SignInAttempt,
    max_ttl_s: float = defaults.MAX_TOKEN_TTL_S,
) -> tuple[str, Token, User]:
    """Signs in. `attempt` is the throttle's admission of this try (asked before any hashing); its outcome
    is recorded here. An unknown name is checked against a dummy hash: the same work, time and answer as a
    wrong password."""
    _check_sign_in(name, password, token_name)
    user = check_password(store, name, password, attempt)
    with store.transaction():
        secret, token = _mint(store, name, token_name or "session", min(defaults.SESSION_TOKEN_TTL_S, max_ttl_s))
        store.append_audit(name, "auth.login", name, {"token": token.id})
    return secret, token, user


def check_password(store: SqliteStore, name: str, password: str, attempt: SignInAttempt) -> User:
    """The user whose name and password these are (no token minted: login's check, and HTTP Basic's).
    An unknown name is checked against a dummy hash: the same work, time and answer as a wrong password."""
    stored = store.password_hash(name)
    user = store.user(name)
    matched = verify_password(password, stored or dummy_hash())
    if stored is None or user is None or not matched:
        attempt.failed()
        claimed = limits.escaped_prefix(name) or "?"  # a name nobody vouched for: never kept whole or raw
        store.append_audit(claimed, "auth.login_failed", claimed, {})
        raise Unauthenticated("wrong user name or password")
    attempt.succeeded()
    if user.disabled:
        raise Unauthenticated(f"user {name!r} is disabled; ask an admin")
    return user


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


def list_users(store: SqliteStore, who: Principal, page: PageRequest) -> Page[User]:
    """One page of the users, by name."""
    require_admin(who, "listing users")
    after = str(page.after[0]) if page.after else ""
    return page_of(store.users(after, page.size + 1), page.size, lambda u: (u.name,))


def set_password(
    store: SqliteStore, who: Principal, name: str, old: str, new: str, signins: SignInThrottle, source: str
) -> None:
    """Changes a password and revokes every token of that user, except the session of a user changing
    their own (it has just proved the old password). The old password's check counts towards the sign-in
    throttle like a sign-in, so a stolen session cannot guess it faster than the sign-in page."""
    limits.PASSWORD.check(old, field="current password")
    limits.PASSWORD.check(new, field="new password")
    name = name or who.user
    if name != who.user:
        require_admin(who, "resetting another user's password")
    else:
        with signins.begin(name, source) as attempt:
            if not verify_password(old, store.password_hash(name) or dummy_hash()):
                attempt.failed()
                raise PermissionDenied("the current password is wrong")
            attempt.succeeded()
    _existing(store, name)
    _check_password(new)
    hashed = hash_password(new)  # before the transaction: scrypt must not hold the store's lock
    with store.transaction():
        store.set_password_hash(name, hashed)
        kept = who.token_id if name == who.user else ""
        revoked = store.revoke_user_tokens(name, clock.now(), keep=kept)
        store.append_audit(who.user, "user.password", name, {"tokens_revoked": revoked})


def set_user_disabled(store: SqliteStore, who: Principal, name: str, disabled: bool) -> User:
    require_admin(who, "disabling or enabling a user")
    _existing(store, name)
    if name == who.user and disabled:
        raise InvalidArgument("you cannot disable yourself; ask another admin")
    with store.transaction():
        store.set_user_disabled(name, disabled)
        if disabled:  # re-enabling revives none of them: the user signs in again
            revoked = store.revoke_user_tokens(name, clock.now())
            store.append_audit(who.user, "user.disable", name, {"tokens_revoked": revoked})
        else:
            store.append_audit(who.user, "user.enable", name, {})
    return _existing(store, name)


def create_token(
    store: SqliteStore,
    who: Principal,
    name: str,
    ttl_s: float,
    user: str,
    max_ttl_s: float = defaults.MAX_TOKEN_TTL_S,
) -> tuple[str, Token]:
    if name:
        check_name("token", name)
    owner = user or who.user
    if owner != who.user:
        require_admin(who, "creating a token for another user")
    _existing(store, owner)
    lifetime = token_lifetime(ttl_s, max_ttl_s, defaults.API_TOKEN_TTL_S)
    with store.transaction():
        secret, token = _mint(store, owner, name or "api", lifetime)
        store.append_audit(
            who.user,
            "token.create",
            token.id,
            {"user": owner, "name": token.name, "expires_at": token.expires_at},
        )
    return secret, token


def list_tokens(store: SqliteStore, who: Principal, user: str, page: PageRequest) -> Page[Token]:
    """One page of the tokens of `user` ("": the caller; "*": everyone's, for an admin), oldest first."""
    owner: str | None = who.user
    if user and user != who.user:
        require_admin(who, "listing other users' tokens")
        owner = None if user == "*" else user
    after = (float(page.after[0]), str(page.after[1])) if page.after else None
    return page_of(store.tokens(owner, after, page.size + 1), page.size, lambda t: (t.created_at, t.id))


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


def token_lifetime(asked: float, cap: float, default: float) -> float:
    """The lifetime a new token gets: `default` (shortened to the cap) when none is asked for (0), else
    what was asked, which must be positive, finite and within the cap. Over the cap is refused rather than
    shortened, so nobody holds a token that ends sooner than they were told."""
    if asked == 0:
        return min(default, cap)
    if not 0 < asked < math.inf:  # NaN fails this too
        raise InvalidArgument(f"token lifetime must be a positive, finite number of seconds (got {asked})")
    if asked > cap:
        raise InvalidArgument(
            f"token lifetime {_span(asked)} is over this coordinator's limit of {_span(cap)} "
            "(kiln coordinator --max-token-lifetime)"
        )
    return asked


def _span(seconds: float) -> str:
    return f"{seconds / 86400:.4g} days" if seconds >= 86400 else f"{seconds:.0f} s"


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


def _check_sign_in(name: str, password: str, token_name: str) -> None:
    """A sign-in's fields are bounded before anything is looked up, hashed or audited."""
    limits.LOGIN_NAME.check(name)
    limits.PASSWORD.check(password)
    if token_name:
        check_name("token", token_name)


def _check_password(password: str) -> str:
    limits.PASSWORD.check(password)
    if len(password) < defaults.MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"password too short: use at least {defaults.MIN_PASSWORD_LENGTH} characters")
    return password
