"""The SQLite plumbing shared by the store's tables: connection (sqlite-utils, WAL), transactions,
migrations. One transaction per logical change; callers hold `transaction()`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.utils import dedupe_keys

from kiln.coordinator.store.migrations import MIGRATIONS
from kiln.core.schema import migrate


class SchemaTooNew(Exception):
    """The database was written by a newer Kiln than this one."""


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []
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
                done, self._after_commit = self._after_commit, []
            for action in done:  # reached only once committed
                action()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Runs `action` once the transaction being written commits, never if it rolls back: for state kept
        outside the database (the audit seal's) that must only ever name committed rows. It runs under the
        store's lock, outside any transaction, and must not raise."""
        self._after_commit.append(action)

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, read on the connection itself: sqlite-utils' `query()` wraps every read in a
        savepoint of its own (three statements for one), which reads that only SELECT do not need."""
        with self._lock:
            cursor = self.db.conn.execute(sql, params)
            if cursor.description is None:
                raise ValueError(f"not a query that returns rows: {sql[:80]}")
            keys = dedupe_keys(d[0] for d in cursor.description)
            return [dict(zip(keys, row, strict=True)) for row in cursor]

    def _pairs(self, sql: str, params: list[Any]) -> list[Any]:
        """Rows as tuples (cheaper than dicts, for reads of many rows)."""
        with self._lock:
            return self.db.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _exec(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
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
            reached = migrate(self.db.execute, self.schema_version(), MIGRATIONS, self._too_new)
            self.db.execute("DELETE FROM schema_version")
            self.db.execute("INSERT INTO schema_version (version) VALUES (?)", [reached])

    def _too_new(self, found: int, known: int) -> Exception:
        return SchemaTooNew(
            f"database {self.path} has schema version {found}, newer than this Kiln knows "
            f"({known}); upgrade Kiln before starting it on this data"
        )

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()
