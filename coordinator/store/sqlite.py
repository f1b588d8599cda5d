"""The SQLite store (sqlite-utils, WAL). One transaction per logical change; callers hold `transaction()`."""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils
from kiln.coordinator.store.migrations import MIGRATIONS

from kiln.core import clock
from kiln.core.audit import GENESIS_HASH, AuditRecord, record_hash
from kiln.core.manifest import Entry
from kiln.core.models import Project, Snapshot, Token, User
from kiln.core.permissions import Role


class SchemaTooNew(Exception):
    """The database was written by a newer Kiln than this one."""


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.migrate()

    # -- plumbing ---------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic change; nested use joins the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
            finally:
                self._depth = 0

    def _rows(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params))

    def _one(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _exec(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> int:
        with self.transaction():
            return self.db.execute(sql, params).rowcount

    def schema_version(self) -> int:
        if not self.db["schema_version"].exists():
            return 0
        row = self._one("SELECT version FROM schema_version")
        return int(row["version"]) if row else 0

    def migrate(self) -> None:
        with self.transaction():
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"database {self.path} has schema version {current}, newer than this Kiln knows "
                    f"({len(MIGRATIONS)}); upgrade Kiln before starting it on this data"
                )
            for script in MIGRATIONS[current:]:
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            self.db.execute("DELETE FROM schema_version")
            self.db.execute("INSERT INTO schema_version (version) VALUES (?)", [len(MIGRATIONS)])

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    # -- users and tokens -------------------------------------------------------------------------------

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

    def users(self) -> list[User]:
        return [_user(r) for r in self._rows("SELECT * FROM users ORDER BY name")]

    def count_users(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM users")[0]["n"])

    def set_password_hash(self, name: str, password_hash: str) -> None:
        self._exec("UPDATE users SET password_hash = ? WHERE name = ?", [password_hash, name])

    def set_user_disabled(self, name: str, disabled: bool) -> None:
        self._exec("UPDATE users SET disabled = ? WHERE name = ?", [int(disabled), name])

    def add_token(self, token: Token, secret_hash: str) -> None:
        self._exec(
            "INSERT INTO tokens (id, user, name, secret_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [token.id, token.user, token.name, secret_hash, token.created_at, token.expires_at],
        )

    def token_by_secret_hash(self, secret_hash: str) -> Token | None:
        row = self._one("SELECT * FROM tokens WHERE secret_hash = ?", [secret_hash])
        return _token(row) if row else None

    def token(self, token_id: str) -> Token | None:
        row = self._one("SELECT * FROM tokens WHERE id = ?", [token_id])
        return _token(row) if row else None

    def tokens(self, user: str | None) -> list[Token]:
        if user is None:
            return [_token(r) for r in self._rows("SELECT * FROM tokens ORDER BY created_at")]
        return [
            _token(r) for r in self._rows("SELECT * FROM tokens WHERE user = ? ORDER BY created_at", [user])
        ]

    def revoke_token(self, token_id: str, at: float) -> None:
        self._exec("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0", [at, token_id])

    def touch_token(self, token_id: str, at: float) -> None:
        self._exec("UPDATE tokens SET last_used_at = ? WHERE id = ?", [at, token_id])

    # -- projects ---------------------------------------------------------------------------------------

    def add_project(self, name: str, description: str, owner: str) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO projects (name, description, created_by, created_at) VALUES (?, ?, ?, ?)",
                [name, description, owner, clock.now()],
            )
            self.db.execute(
                "INSERT INTO members (project, user, role) VALUES (?, ?, ?)", [name, owner, str(Role.OWNER)]
            )

    def project(self, name: str) -> Project | None:
        row = self._one("SELECT * FROM projects WHERE name = ?", [name])
        if row is None:
            return None
        members = {
            r["user"]: Role.parse(r["role"])
            for r in self._rows("SELECT user, role FROM members WHERE project = ? ORDER BY user", [name])
        }
        return _project(row, members)

    def projects(self, member: str | None, include_archived: bool) -> list[Project]:
        archived = "" if include_archived else " AND p.archived_at = 0"
        if member is None:
            rows = self._rows(f"SELECT p.* FROM projects p WHERE 1{archived} ORDER BY p.name")
        else:
            rows = self._rows(
                "SELECT p.* FROM projects p JOIN members m ON m.project = p.name "
                f"WHERE m.user = ?{archived} ORDER BY p.name",
                [member],
            )
        return [p for p in (self.project(r["name"]) for r in rows) if p is not None]

    def role(self, project: str, user: str) -> Role | None:
        row = self._one("SELECT role FROM members WHERE project = ? AND user = ?", [project, user])
        return Role.parse(row["role"]) if row else None

    def set_member(self, project: str, user: str, role: Role) -> None:
        self._exec(
            "INSERT INTO members (project, user, role) VALUES (?, ?, ?) "
            "ON CONFLICT (project, user) DO UPDATE SET role = excluded.role",
            [project, user, str(role)],
        )

    def remove_member(self, project: str, user: str) -> None:
        self._exec("DELETE FROM members WHERE project = ? AND user = ?", [project, user])

    def archive_project(self, name: str, at: float) -> None:
        self._exec("UPDATE projects SET archived_at = ? WHERE name = ?", [at, name])

    # -- blobs and snapshots ----------------------------------------------------------------------------

    def project_blobs(self, project: str, digests: Iterable[str]) -> dict[str, int]:
        """The size of each of `digests` that the project holds (one query, however many are asked)."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT b.digest, b.size FROM json_each(?) j "
                "JOIN project_blobs p ON p.project = ? AND p.digest = j.value "
                "JOIN blobs b ON b.digest = j.value",
                [json.dumps(list(digests)), project],
            ).fetchall()
        return dict(rows)

    def add_project_blobs(self, project: str, blobs: list[tuple[str, int]]) -> None:
        """Records blobs (digest, size) as present on disk and held by the project."""
        now = clock.now()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)",
                [(d, size, now) for d, size in blobs],
            )
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO project_blobs (project, digest) VALUES (?, ?)",
                [(project, d) for d, _ in blobs],
            )

    def add_snapshot(self, snap: Snapshot, canonical_manifest: bytes) -> None:
        self._exec(
            "INSERT INTO snapshots (project, id, parent, message, author, created_at, files, bytes, "
            "manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                snap.project,
                snap.id,
                snap.parent,
                snap.message,
                snap.author,
                snap.created_at,
                snap.files,
                snap.bytes,
                zlib.compress(canonical_manifest, 1),
            ],
        )

    def snapshot(self, project: str, snapshot_id: str) -> Snapshot | None:
        row = self._one("SELECT * FROM snapshots WHERE project = ? AND id = ?", [project, snapshot_id])
        return _snapshot(row) if row else None

    def snapshots_matching(self, prefix: str) -> list[Snapshot]:
        """Every (project, snapshot) whose id starts with `prefix`."""
        rows = self._rows(
            "SELECT * FROM snapshots WHERE id >= ? AND id < ? ORDER BY project", [prefix, prefix + "g"]
        )
        return [_snapshot(r) for r in rows]

    def snapshots(self, project: str) -> list[Snapshot]:
        rows = self._rows("SELECT * FROM snapshots WHERE project = ? ORDER BY created_at DESC", [project])
        return [_snapshot(r) for r in rows]

    def manifest(self, project: str, snapshot_id: str) -> list[Entry]:
        row = self._one("SELECT manifest FROM snapshots WHERE project = ? AND id = ?", [project, snapshot_id])
        return _decode_manifest(row["manifest"]) if row else []

    # -- audit ------------------------------------------------------------------------------------------

    def append_audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> AuditRecord:
        details_json = json.dumps(details, sort_keys=True, separators=(",", ":"))
        with self.transaction():
            last = self._one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            seq = (last["seq"] + 1) if last else 1
            prev = last["hash"] if last else GENESIS_HASH
            at = clock.now()
            digest = record_hash(seq, at, actor, action, target, details_json, prev)
            record = AuditRecord(seq, at, actor, action, target, details_json, prev, digest)
            self.db.execute(
                "INSERT INTO audit (seq, time, actor, action, target, details_json, prev_hash, "
                "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, actor, action, target, details_json, prev, digest],
            )
        return record

    def audit(
        self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = ""
    ) -> list[AuditRecord]:
        sql = "SELECT * FROM audit WHERE seq > ?"
        params: list[Any] = [after_seq]
        if actor:
            sql += " AND actor = ?"
            params.append(actor)
        if action_prefix:
            sql += " AND substr(action, 1, ?) = ?"
            params += [len(action_prefix), action_prefix]
        sql += " ORDER BY seq"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [AuditRecord(**r) for r in self._rows(sql, params)]


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


def _project(row: dict[str, Any], members: dict[str, Role]) -> Project:
    return Project(
        row["name"], row["description"], row["created_by"], row["created_at"], row["archived_at"], members
    )


def _snapshot(row: dict[str, Any]) -> Snapshot:
    return Snapshot(
        row["id"],
        row["project"],
        row["parent"],
        row["message"],
        row["author"],
        row["created_at"],
        row["files"],
        row["bytes"],
    )


def _decode_manifest(blob: bytes) -> list[Entry]:
    return [Entry(*row) for row in json.loads(zlib.decompress(blob))]
