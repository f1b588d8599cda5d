"""Passwords (scrypt, stored hashed) and API tokens (random secrets, stored as SHA-256)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from collections import Counter

from kiln.core.hashing import sha256_bytes

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "kiln_"


class _Derivations:
    """How many scrypt derivations ran, by cost (n, r, p): the sign-in work done, which tests read to show
    that an unknown user name costs exactly what a wrong password does, and a refused guess nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, int, int]] = Counter()

    def add(self, cost: tuple[int, int, int]) -> None:
        with self._lock:
            self._counts[cost] += 1

    def snapshot(self) -> Counter[tuple[int, int, int]]:
        with self._lock:
            return Counter(self._counts)


derivations = _Derivations()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    derivations.add((n, r, p))
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    derived = _scrypt(password, _unb64(salt), int(n), int(r), int(p), len(_unb64(key)))
    return hmac.compare_digest(derived, _unb64(key))


@functools.cache
def dummy_hash() -> str:
    """A hash no password is known for, at today's cost: an unknown user name is checked against it, so a
    wrong name takes the same work and time as a wrong password and neither tells which names exist."""
    return hash_password(secrets.token_urlsafe(18))


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def new_token() -> tuple[str, str]:
    """(token id, secret): the id is public and names the token; the secret is shown once."""
    token_id = "t-" + secrets.token_hex(6)
    return token_id, TOKEN_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return sha256_bytes(secret.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
