"""The tamper-evident audit chain: each record's hash covers its fields and the previous record's hash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kiln.core.hashing import canonical_json, sha256_bytes

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: float
    actor: str
    action: str
    target: str
    details_json: str
    prev_hash: str
    hash: str


def record_hash(seq: int, time: float, actor: str, action: str, target: str, details_json: str, prev_hash: str) -> str:
    return sha256_bytes(canonical_json([seq, repr(time), actor, action, target, details_json, prev_hash]))


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    records: int
    first_broken_seq: int = 0
    reason: str = ""


def verify_chain(records: Iterable[AuditRecord]) -> ChainVerdict:
    """Walks the records in order; names the first whose sequence, link or hash does not hold."""
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    for r in records:
        count += 1
        if r.seq != expected_seq:
            return ChainVerdict(
                False,
                count,
                r.seq,
                f"expected record {expected_seq}, found {r.seq}: records were removed or reordered",
            )
        if r.prev_hash != prev_hash:
            return ChainVerdict(False, count, r.seq, "its link to the previous record does not match")
        if record_hash(r.seq, r.time, r.actor, r.action, r.target, r.details_json, r.prev_hash) != r.hash:
            return ChainVerdict(False, count, r.seq, "its contents do not match its hash (edited)")
        prev_hash, expected_seq = r.hash, r.seq + 1
    return ChainVerdict(True, count)
