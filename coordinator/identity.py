"""Passwords (scrypt, stored hashed) and API tokens (random secrets, stored as SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from kiln.core.hashing import sha256_bytes

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "kiln_"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    derived = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(key)))
    return hmac.compare_digest(derived, _unb64(key))


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
