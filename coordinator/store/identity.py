"""Users and API tokens."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core import clock
from kiln.core.models import Token, User


class IdentityTables(Database):
    def add_user(self, name: str, password_hash: str, is_admin: bool) -> User:
        user = User(name, is_admin, False, clock.now())
        self._exec(
            "INSERT INTO users (name, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?)",
            [name, password_hash, int(is_admin), user.created_at],
        )
        return user

    def user(self, name: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE name = ?", [name])
        return _user(row) if row else None

    def password_hash(self, name: str) -> str | None:
        row = self._one("SELECT password_hash FROM users WHERE name = ?", [name])
        return row["password_hash"] if row else None

    def users(self, after: str = "", limit: int = -1) -> list[User]:
        """Users by name, those after `after` (a page of at most `limit`; -1: every one)."""
        rows = self._rows("SELECT * FROM users WHERE name > ? ORDER BY name LIMIT ?", [after, limit])
        return [_user(r) for r in rows]

    def count_users(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM users")[0]["n"])

    def set_password_hash(self, name: str, password_hash: str) -> None:
        self._exec("UPDATE users SET password_hash = ? WHERE name = ?", [password_hash, name])

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        self._exec("UPDATE users SET disabled = ? WHERE name = ?", [int(disabled), name])

    def add_token(self, token: Token, secret_hash: str) -> None:
        self._exec(
            "INSERT INTO tokens (id, user, name, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            [token.id, token.user, token.name, secret_hash, token.created_at, token.expires_at],
        )

    def token_by_secret_hash(self, secret_hash: str) -> Token | None:
        row = self._one("SELECT * FROM tokens WHERE secret_hash = ?", [secret_hash])
        return _token(row) if row else None

    def token(self, token_id: str) -> Token | None:
        row = self._one("SELECT * FROM tokens WHERE id = ?", [token_id])
        return _token(row) if row else None

    def tokens(self, user: str | None, after: tuple[float, str] | None = None, limit: int = -1) -> list[Token]:
        """Tokens of `user` (None: everyone's) by creation, those after `after` (created_at, id), at most
        `limit` (-1: every one)."""
        sql, params = "SELECT * FROM tokens WHERE (created_at, id) > (?, ?)", list[Any](after or (-1.0, ""))
        if user is not None:
            sql += " AND user = ?"
            params.append(user)
        rows = self._rows(sql + " ORDER BY created_at, id LIMIT ?", [*params, limit])
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, at: float) -> None:
        self._exec("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0", [at, token_id])

    def revoke_user_tokens(self, user: str, at: float, keep: str = "") -> int:
        """Revokes every live token of `user` but `keep`; returns how many were revoked."""
        return self._exec(
            "UPDATE tokens SET revoked_at = ? WHERE user = ? AND revoked_at = 0 AND id != ?", [at, user, keep]
        )

    def touch_token(self, token_id: str, at: float) -> None:
        self._exec("UPDATE tokens SET last_used_at = ? WHERE id = ?", [at, token_id])


def _user(row: dict[str, Any]) -> User:
    return User(row["name"], bool(row["is_admin"]), bool(row["disabled"]), row["created_at"])


def _token(row: dict[str, Any]) -> Token:
    return Token(
        row["id"],
        row["user"],
        row["name"],
        row["created_at"],
        row["expires_at"],
        row["revoked_at"],
        row["last_used_at"],
    )
