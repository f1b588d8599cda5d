"""Reading and verifying the audit chain (records are appended by the store, inside each change)."""

from __future__ import annotations

from collections.abc import Iterator

from kiln.coordinator.access import require_admin
from kiln.coordinator.store import SqliteStore
from kiln.core.audit import AuditRecord, ChainVerdict, verify_chain
from kiln.core.defaults import AUDIT_PAGE
from kiln.core.permissions import Principal


def list_audit(
    store: SqliteStore, who: Principal, after_seq: int, limit: int, actor: str, action_prefix: str
) -> list[AuditRecord]:
    require_admin(who, "reading the audit log")
    return store.audit(after_seq, min(limit or AUDIT_PAGE, AUDIT_PAGE), actor, action_prefix)


def verify(store: SqliteStore, who: Principal) -> ChainVerdict:
    require_admin(who, "verifying the audit log")
    return verify_chain(_all_records(store))


def _all_records(store: SqliteStore) -> Iterator[AuditRecord]:
    after = 0
    while page := store.audit(after, AUDIT_PAGE * 10):
        yield from page
        after = page[-1].seq
