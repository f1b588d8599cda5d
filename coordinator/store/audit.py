"""The hash-chained audit log."""

from __future__ import annotations

import json
from typing import Any

from kiln.coordinator.store.base import Database
from kiln.core import clock
from kiln.core.audit import GENESIS_HASH, AuditRecord, record_hash


class AuditTables(Database):
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

    def audit(self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = "") -> list[AuditRecord]:
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
