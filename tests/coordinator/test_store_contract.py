"""One contract suite for every store backend: each backend is a subclass naming how to open one."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from kiln.coordinator.store import SchemaTooNew, SqliteStore
from kiln.core.audit import verify_chain
from kiln.core.manifest import Entry, canonical_manifest
from kiln.core.models import Snapshot, Token
from kiln.core.permissions import Role

D = "c" * 64


class StoreContract:
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        raise NotImplementedError

    def test_users_and_tokens_round_trip(self, store):
        store.add_user("alice", "hash", is_admin=False)
        assert store.user("alice").name == "alice" and store.password_hash("alice") == "hash"
        store.add_token(Token("t-1", "alice", "ci", 10.0, 20.0), "secret-hash")
        assert store.token_by_secret_hash("secret-hash").id == "t-1"
        store.revoke_token("t-1", 15.0)
        assert store.token("t-1").revoked_at == 15.0
        assert [t.id for t in store.tokens("alice")] == ["t-1"]

    def test_projects_carry_members_and_roles(self, store):
        store.add_user("alice", "h", False)
        store.add_user("bob", "h", False)
        store.add_project("p", "demo", "alice")
        store.set_member("p", "bob", Role.VIEWER)
        assert store.project("p").members == {"alice": Role.OWNER, "bob": Role.VIEWER}
        assert [p.name for p in store.projects("bob", False)] == ["p"]
        store.archive_project("p", 5.0)
        assert store.projects("bob", False) == [] and store.projects("bob", True)[0].archived_at == 5.0

    def test_blobs_are_held_per_project(self, store):
        store.add_user("alice", "h", False)
        store.add_project("p", "", "alice")
        store.add_project("q", "", "alice")
        store.add_project_blobs("p", [(D, 3)])
        assert store.project_blobs("p", [D, "d" * 64]) == {D: 3}
        assert store.project_blobs("q", [D]) == {}

    def test_snapshots_keep_their_manifest(self, store):
        store.add_user("alice", "h", False)
        store.add_project("p", "", "alice")
        entries = [Entry("d", stat.S_IFDIR | 0o755), Entry("d/f", stat.S_IFREG | 0o600, 3, D)]
        store.add_snapshot(Snapshot("ab" * 32, "p", "", "m", "alice", 1.0, 1, 3), canonical_manifest(entries))
        assert store.manifest("p", "ab" * 32) == entries
        assert [s.id for s in store.snapshots_matching("abab")] == ["ab" * 32]

    def test_audit_appends_a_verifiable_chain(self, store):
        for i in range(3):
            store.append_audit("alice", "x.y", f"t{i}", {"i": i})
        records = store.audit()
        assert [r.seq for r in records] == [1, 2, 3]
        assert verify_chain(records).ok
        assert [r.seq for r in store.audit(after_seq=1, limit=1)] == [2]

    def test_a_failed_transaction_changes_nothing(self, store):
        with pytest.raises(RuntimeError), store.transaction():
            store.add_user("alice", "h", False)
            store.append_audit("alice", "user.create", "alice", {})
            raise RuntimeError("boom")
        assert store.user("alice") is None and store.audit() == []


class TestSqliteFile(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        return SqliteStore(tmp_path / "kiln.db")

    def test_refuses_a_schema_newer_than_it_knows(self, tmp_path: Path):
        SqliteStore(tmp_path / "kiln.db").close()
        with sqlite3.connect(tmp_path / "kiln.db") as conn:
            conn.execute("UPDATE schema_version SET version = 999")
        with pytest.raises(SchemaTooNew, match="upgrade Kiln"):
            SqliteStore(tmp_path / "kiln.db")

    def test_reopening_keeps_data_and_uses_wal(self, tmp_path: Path):
        s = SqliteStore(tmp_path / "kiln.db")
        s.add_user("alice", "h", False)
        s.close()
        s = SqliteStore(tmp_path / "kiln.db")
        assert s.user("alice") is not None
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


class TestSqliteMemory(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        return SqliteStore(":memory:")
