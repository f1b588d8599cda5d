"""The hash-chained audit log, and its seal: every record signed as it is appended, in the same transaction.

The seal (kiln/core/audit.py says why it has the shape it has) keeps, outside the database, what this
coordinator last signed: in memory, the newest committed record; beside the key, a signed checkpoint
written every AUDIT_CHECKPOINT_RECORDS records or AUDIT_CHECKPOINT_S seconds and on `kiln audit anchor`.
Before it signs on top of a chain it first checks that the chain is still the one it signed; if not, it
appends a signed note of what it found, so the evidence stays in the log for every later `verify`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kiln.coordinator.pki import AuditKey
from kiln.coordinator.store.base import Database
from kiln.core import clock, defaults
from kiln.core.atomic import atomic_write
from kiln.core.audit import (
    GENESIS_HASH,
    KEY_ACTION,
    TAMPER_ACTION,
    AuditRecord,
    Checkpoint,
    record_hash,
    record_statement,
    why_unsigned,
)
from kiln.core.errors import FailedPrecondition

log = logging.getLogger("kiln.coordinator.audit")
COLUMNS = "seq, time, actor, action, target, details_json, prev_hash, hash, signature, signed_by"


@dataclass(frozen=True)
class Saved:
    """What the checkpoint file beside the key holds: a checkpoint, or why it could not be read."""

    checkpoint: Checkpoint | None
    problem: str = ""


class AuditSeal:
    """The audit key and what this coordinator has signed with it; lives as long as the store."""

    def __init__(self, key: AuditKey, checkpoint_path: Path) -> None:
        self.key = key
        self.path = checkpoint_path
        self.head: Checkpoint | None = None  # the newest record this process saw committed (unsigned statement)
        self._clean: tuple[int, str] | None = None  # the newest committed record known to be ours and intact
        saved = self.load()
        self.saved = saved.checkpoint if not saved.problem else None
        # Noted in the chain at the next append: a checkpoint file that cannot be trusted hides truncation.
        self.unnoted_problem = saved.problem
        if saved.problem:
            log.error("the audit checkpoint %s cannot be trusted: %s", self.path, saved.problem)

    def signed(self, r: AuditRecord) -> bool:
        return r.signed_by == self.key.key_id and self.key.verifies(record_statement(r), r.signature)

    def checkpoint(self, seq: int, digest: str, at: float) -> Checkpoint:
        unsigned = Checkpoint(seq, digest, at, self.key.fingerprint, "")
        return replace(unsigned, signature=self.key.sign(unsigned.statement()))

    def checkpoint_problem(self, cp: Checkpoint) -> str:
        """Empty when `cp` was signed by this coordinator's key; otherwise what is wrong with it."""
        if cp.key != self.key.fingerprint:
            return f"is signed by another key ({cp.key}); this coordinator's audit key is {self.key.fingerprint}"
        if not self.key.verifies(cp.statement(), cp.signature):
            return "has a signature that does not verify with this coordinator's audit key: it was altered"
        return ""

    def load(self) -> Saved:
        """The checkpoint file as it is now, checked against the key."""
        if not self.path.exists():
            return Saved(None)
        try:
            raw = json.loads(self.path.read_text())
            cp = Checkpoint(int(raw["seq"]), str(raw["hash"]), float(raw["time"]), str(raw["key"]), str(raw["sig"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            return Saved(None, f"{self.path.name} cannot be read as a checkpoint ({e.__class__.__name__})")
        problem = self.checkpoint_problem(cp)
        return Saved(cp, f"{self.path.name} {problem}" if problem else "")

    def save(self, cp: Checkpoint) -> None:
        body = {"seq": cp.seq, "hash": cp.hash, "time": cp.time, "key": cp.key, "sig": cp.signature}
        atomic_write(self.path, json.dumps(body).encode() + b"\n", 0o600)
        self.saved = cp

    def known(self) -> Checkpoint | None:
        """The furthest point this coordinator knows its chain reached."""
        marks = [m for m in (self.head, self.saved) if m is not None]
        return max(marks, key=lambda m: m.seq) if marks else None

    def check(self, last: AuditRecord | None, hash_at: Callable[[int], str | None]) -> dict[str, Any] | None:
        """None when the chain ending at `last` is the one this coordinator signed; else what was found,
        as the details of a note to append before anything is signed on top of it."""
        if self.unnoted_problem:
            why = f"its checkpoint untrustworthy at start: {self.unnoted_problem}"
            return {"found": "checkpoint", "seq": (last.seq if last else 0) + 1, "why": why}
        if last and self._clean == (last.seq, last.hash):
            return None
        if last is not None and not self.signed(last):
            return {"found": "unsigned", "seq": last.seq, "why": why_unsigned(last, self.key.key_id)}
        known = self.known()
        end = last.seq if last else 0
        if known is not None and known.seq > end:
            why = f"the chain ending at record {end}, though it had signed record {known.seq}: records were deleted"
            return {"found": "truncated", "seq": end + 1, "why": why}
        if known is not None and known.seq and hash_at(known.seq) != known.hash:
            why = f"the chain changed: record {known.seq} no longer has the hash it had signed ({known.hash[:12]}…)"
            return {"found": "rewritten", "seq": known.seq, "why": why}
        return None

    def committed(self, r: AuditRecord, durable: Callable[[], None], force: bool = False) -> None:
        """After `r` committed: remember it, and write a checkpoint when one is due."""
        try:
            self.head = Checkpoint(r.seq, r.hash, r.time, self.key.fingerprint, "")
            self._clean = (r.seq, r.hash)
            if r.action == TAMPER_ACTION and r.actor == "system":
                self.unnoted_problem = ""
            last = self.saved
            due = (
                force
                or last is None
                or r.seq - last.seq >= defaults.AUDIT_CHECKPOINT_RECORDS
                or clock.now() - last.time >= defaults.AUDIT_CHECKPOINT_S
            )
            if due:
                durable()  # the records it names survive a power cut before the file naming them does
                self.save(self.checkpoint(r.seq, r.hash, clock.now()))
        except Exception:  # the record is committed either way; the next one tries again
            log.exception("could not write the audit checkpoint %s", self.path)


class AuditTables(Database):
    audit_seal: AuditSeal | None = None

    def seal_audit(self, seal: AuditSeal, new_key: bool) -> None:
        """From now on every record is signed. A new key takes over the chain as it stands, in a signed
        record that names the key (and the one before it, when the chain was already signed)."""
        self.audit_seal = seal
        if new_key:
            with self.transaction():
                last = self._audit_last()
                previous = last.signed_by if last else ""
                details = {"key": seal.key.fingerprint, "after_seq": last.seq if last else 0, "previous_key": previous}
                self._audit_insert(last, "system", KEY_ACTION, "audit", details, force=True)
            if last and not previous:
                log.warning("the audit log's %d records before this start are vouched for by the new key", last.seq)

    def append_audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> AuditRecord:
        with self.transaction():
            last = self._audit_last()
            note = self._tamper_note(last)
            if note is not None:
                log.error("the audit log was changed behind the coordinator's back: %s", note["why"])
                last = self._audit_insert(last, "system", TAMPER_ACTION, "audit", note, force=True)
            return self._audit_insert(last, actor, action, target, details)

    def audit_anchor(self) -> Checkpoint:
        """A checkpoint of the head, signed now and kept beside the key, for an admin to keep elsewhere."""
        seal = self.audit_seal
        if seal is None:
            raise FailedPrecondition("this store has no audit key")
        with self._lock:  # no record lands between the check and the checkpoint
            last = self._audit_last()
            note = self._tamper_note(last)
            if note is not None:
                raise FailedPrecondition(
                    f"the audit log fails its check ({note['why']}): run `kiln audit verify`; an anchor is made "
                    "only for a chain this coordinator can vouch for"
                )
            self._audit_durable()
            cp = seal.checkpoint(last.seq if last else 0, last.hash if last else GENESIS_HASH, clock.now())
            seal.save(cp)
        return cp

    def _tamper_note(self, last: AuditRecord | None) -> dict[str, Any] | None:
        return None if self.audit_seal is None else self.audit_seal.check(last, self._audit_hash_at)

    def _audit_insert(
        self,
        last: AuditRecord | None,
        actor: str,
        action: str,
        target: str,
        details: dict[str, Any],
        force: bool = False,
    ) -> AuditRecord:
        details_json = json.dumps(details, sort_keys=True, separators=(",", ":"))
        seq = (last.seq + 1) if last else 1
        prev = last.hash if last else GENESIS_HASH
        at = clock.now()
        digest = record_hash(seq, at, actor, action, target, details_json, prev)
        record = AuditRecord(seq, at, actor, action, target, details_json, prev, digest)
        seal = self.audit_seal
        if seal is not None:
            record = replace(record, signature=seal.key.sign(record_statement(record)), signed_by=seal.key.key_id)
            sealed = record
            self.after_commit(lambda: seal.committed(sealed, self._audit_durable, force))
        self.db.execute(
            f"INSERT INTO audit ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, at, actor, action, target, details_json, prev, digest, record.signature, record.signed_by],
        )
        return record

    def _audit_durable(self) -> None:
        """Makes every committed record durable (the WAL is synced before a checkpoint copies it)."""
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _audit_last(self) -> AuditRecord | None:
        row = self._one(f"SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1")
        return AuditRecord(**row) if row else None

    def _audit_hash_at(self, seq: int) -> str | None:
        row = self._one("SELECT hash FROM audit WHERE seq = ?", [seq])
        return str(row["hash"]) if row else None

    def audit(self, after_seq: int = 0, limit: int = 0, actor: str = "", action_prefix: str = "") -> list[AuditRecord]:
        sql = f"SELECT {COLUMNS} FROM audit WHERE seq > ?"
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

    def audit_newest_first(self, before_seq: int, limit: int) -> list[AuditRecord]:
        """Records with seq < `before_seq`, newest first: for walking back from the head."""
        rows = self._rows(f"SELECT {COLUMNS} FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?", [before_seq, limit])
        return [AuditRecord(**r) for r in rows]
