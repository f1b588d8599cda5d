"""The tamper-evident audit log, as pure values and checks (the signing key and the store are elsewhere).

Two layers, because a hash chain alone only proves itself to someone who already trusts its newest hash:
- the chain: each record's hash covers its fields and the previous record's hash, so an edit or a removal
  in the middle breaks a link;
- the seal: the coordinator signs each record as it appends it, in the same transaction, with a key the
  database does not hold (coordinator/pki.py). A signature over a record's (seq, hash, time) vouches,
  through the chain, for every record before it, so the newest signed record is enough to trust the whole
  chain up to it; whatever comes after it is an "unsigned tail". The coordinator never signs on top of a
  record it cannot vouch for: it first appends a signed `audit.tamper` note saying what it found, so a
  forgery cannot be laundered by the next honest record.
A checkpoint is the same kind of signed statement about the head at a moment: the coordinator keeps the
latest beside its key (for truncation while the database alone was in other hands), and an admin keeps
one elsewhere as an anchor (`kiln audit anchor`), which bounds what even someone holding the key can hide.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kiln.core.errors import InvalidArgument
from kiln.core.hashing import canonical_json, is_digest, sha256_bytes

GENESIS_HASH = "0" * 64
STATEMENT_VERSION = "kiln.audit.v1"
ANCHOR_PREFIX = "kiln-audit-anchor-v1"
KEY_ID_HEX = 16  # a record names the key that signed it by the first 16 hex digits of its fingerprint
MAX_ANCHOR_CHARS = 2000
SIGNATURE_BYTES = 64  # Ed25519
TAMPER_ACTION = "audit.tamper"  # the coordinator's own note that the chain was not what it had signed
KEY_ACTION = "audit.key.create"  # a new audit key, and the chain it took over


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
    signature: str = ""  # base64url Ed25519 over record_statement(); "" on records older than the seal
    signed_by: str = ""  # the key id of the key that made it


def record_hash(seq: int, time: float, actor: str, action: str, target: str, details_json: str, prev_hash: str) -> str:
    return sha256_bytes(canonical_json([seq, repr(time), actor, action, target, details_json, prev_hash]))


def statement(kind: str, seq: int, hash: str, time: float) -> bytes:
    """The bytes a signature is made over. `kind` keeps a record's signature from passing as a checkpoint's."""
    return canonical_json([STATEMENT_VERSION, kind, seq, hash, repr(time)])


def record_statement(r: AuditRecord) -> bytes:
    return statement("record", r.seq, r.hash, r.time)


def key_id(fingerprint: str) -> str:
    return fingerprint.removeprefix("SHA256:")[:KEY_ID_HEX]


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that at `time` the chain's newest record was `seq` with hash `hash`."""

    seq: int
    hash: str
    time: float
    key: str  # the signing key's fingerprint, "SHA256:<hex>"
    signature: str  # base64url, no padding

    def statement(self) -> bytes:
        return statement("checkpoint", self.seq, self.hash, self.time)

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "hash": self.hash, "time": self.time, "key": self.key, "signature": self.signature}


def format_anchor(cp: Checkpoint) -> str:
    """One line to keep off the host: everything needed to check the chain against it later."""
    return ":".join([ANCHOR_PREFIX, str(cp.seq), cp.hash, repr(cp.time), key_hex(cp.key), cp.signature])


def key_hex(fingerprint: str) -> str:
    return fingerprint.removeprefix("SHA256:")


def parse_anchor(text: str) -> Checkpoint:
    """The anchor line `kiln audit anchor` printed (or its --json), checked field by field."""
    text = text.strip()
    usage = f"not a Kiln audit anchor: give the line `kiln audit anchor` prints ({ANCHOR_PREFIX}:SEQ:HASH:…)"
    if len(text) > MAX_ANCHOR_CHARS:
        raise InvalidArgument(f"{usage}; this is {len(text)} characters long")
    if text.startswith("{"):
        try:
            text = str(json.loads(text)["anchor"])
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument(usage) from None
    parts = text.split(":")
    if len(parts) != 6 or parts[0] != ANCHOR_PREFIX:
        raise InvalidArgument(usage)
    _, seq_text, digest, time_text, key, signature = parts
    try:
        seq, time = int(seq_text), float(time_text)
    except ValueError:
        raise InvalidArgument(f"{usage}; its record number or time is not a number") from None
    if seq < 0 or not math.isfinite(time):
        raise InvalidArgument(f"{usage}; its record number or time is out of range")
    if not is_digest(digest) or not is_digest(key):
        raise InvalidArgument(f"{usage}; its hash or key fingerprint is not 64 hex digits")
    if len(decode_signature(signature) or b"") != SIGNATURE_BYTES:
        raise InvalidArgument(f"{usage}; its signature is not an Ed25519 signature")
    return Checkpoint(seq, digest, time, "SHA256:" + key, signature)


def encode_signature(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_signature(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None


@dataclass(frozen=True)
class Finding:
    """One thing verification found wrong: which check, the first record it concerns, and in words."""

    check: str  # chain | signature | truncated | rewritten | key | checkpoint | tamper
    seq: int
    message: str


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    records: int
    first_broken_seq: int = 0
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    signed_seq: int = 0  # the newest record signed with the coordinator's audit key
    key: str = ""  # that key's fingerprint


def verdict(records: int, findings: Iterable[Finding], signed_seq: int = 0, key: str = "") -> ChainVerdict:
    """Findings in chain order; the first names the verdict (first_broken_seq, reason)."""
    ordered = tuple(sorted(findings, key=lambda f: f.seq))
    if not ordered:
        return ChainVerdict(True, records, signed_seq=signed_seq, key=key)
    first = ordered[0]
    return ChainVerdict(False, records, first.seq, first.message, ordered, signed_seq, key)


@dataclass
class ChainWalk:
    """Follows the chain forward, record by record, as pages of it arrive; stops at the first broken link.
    Keeps the hashes at `want` (the seqs that checkpoints name) and the coordinator's own notes."""

    want: set[int] = field(default_factory=set)
    count: int = 0
    head: AuditRecord | None = None
    broken: Finding | None = None
    hashes: dict[int, str] = field(default_factory=dict)
    notes: list[AuditRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hashes[0] = GENESIS_HASH

    def feed(self, records: Iterable[AuditRecord]) -> bool:
        """False once the chain is broken (the rest cannot be trusted, so need not be read)."""
        if self.broken:
            return False
        prev_hash, expected_seq = (self.head.hash, self.head.seq + 1) if self.head else (GENESIS_HASH, 1)
        for r in records:
            self.count += 1
            if r.seq != expected_seq:
                why = f"expected record {expected_seq}, found {r.seq}: records were removed or reordered"
                self.broken = Finding("chain", r.seq, why)
            elif r.prev_hash != prev_hash:
                self.broken = Finding("chain", r.seq, "its link to the previous record does not match")
            elif record_hash(r.seq, r.time, r.actor, r.action, r.target, r.details_json, r.prev_hash) != r.hash:
                self.broken = Finding("chain", r.seq, "its contents do not match its hash (edited)")
            if self.broken:
                return False
            if r.seq in self.want:
                self.hashes[r.seq] = r.hash
            if r.actor == "system" and r.action in (TAMPER_ACTION, KEY_ACTION):
                self.notes.append(r)
            prev_hash, expected_seq, self.head = r.hash, r.seq + 1, r
        return True

    @property
    def head_seq(self) -> int:
        return self.head.seq if self.head else 0


def verify_chain(records: Iterable[AuditRecord]) -> ChainVerdict:
    """The chain alone: names the first record whose sequence, link or hash does not hold."""
    walk = ChainWalk()
    walk.feed(records)
    return verdict(walk.count, [walk.broken] if walk.broken else [])


@dataclass(frozen=True)
class Tail:
    """The records after the newest one a key vouches for (newest first in, oldest kept)."""

    count: int
    signed_seq: int  # 0: no record is signed
    oldest: AuditRecord | None  # the first record of the tail


def unsigned_tail(newest_first: Iterable[AuditRecord], signed: Callable[[AuditRecord], bool]) -> Tail:
    count, oldest = 0, None
    for r in newest_first:
        if signed(r):
            return Tail(count, r.seq, oldest)
        count, oldest = count + 1, r
    return Tail(count, 0, oldest)


def why_unsigned(r: AuditRecord, our_key_id: str) -> str:
    if not r.signature:
        return "carries no signature: it was added by someone without the coordinator's key (a forged append)"
    if r.signed_by != our_key_id:
        return f"is signed by another key (key id {r.signed_by or '?'}), not this coordinator's audit key"
    return "has a signature that does not match it: it was edited and its hash recomputed"


def tail_finding(tail: Tail, our_key_id: str) -> Finding | None:
    if not tail.count or tail.oldest is None:
        return None
    s = "s" if tail.count != 1 else ""
    where = f"after record {tail.signed_seq}" if tail.signed_seq else "(no record is signed)"
    return Finding(
        "signature",
        tail.oldest.seq,
        f"unsigned tail: {tail.count} record{s} {where}; record {tail.oldest.seq} "
        + why_unsigned(tail.oldest, our_key_id),
    )


def reference_finding(label: str, cp: Checkpoint, walk: ChainWalk) -> Finding | None:
    """Whether the chain still reaches what a checkpoint (or anchor) named; None when it does."""
    if cp.seq > walk.head_seq:
        return Finding(
            "truncated",
            walk.head_seq + 1,
            f"tail truncated: {label} names record {cp.seq}, but the chain ends at record {walk.head_seq}: "
            f"the newest {cp.seq - walk.head_seq} record(s) were deleted (or lost in a crash)",
        )
    if walk.hashes.get(cp.seq) != cp.hash:
        return Finding(
            "rewritten",
            cp.seq,
            f"rewritten: record {cp.seq} no longer has the hash {label} signed ({cp.hash[:12]}…): the chain up "
            "to it was changed and its hashes recomputed",
        )
    return None


def _note_details(note: AuditRecord) -> dict[str, object]:
    try:
        details = json.loads(note.details_json)
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def note_unsigned_seq(note: AuditRecord) -> int:
    """The record a note says was not signed (the newest of the forged ones), or 0."""
    details = _note_details(note)
    if note.action != TAMPER_ACTION or details.get("found") != "unsigned":
        return 0
    seq = details.get("seq")
    return seq if isinstance(seq, int) else 0


NOTE_CHECKS = {"unsigned": "signature", "truncated": "truncated", "rewritten": "rewritten", "checkpoint": "checkpoint"}


def note_finding(note: AuditRecord, our_key_id: str, first_unsigned: int = 0) -> Finding | None:
    """What the coordinator recorded, in a signed note, about a chain it found not as it had left it."""
    details = _note_details(note)
    if note.action == KEY_ACTION:
        previous = str(details.get("previous_key", ""))
        if not previous or previous == our_key_id:
            return None
        return Finding(
            "key",
            note.seq,
            f"record {note.seq}: a new audit key was made while the chain was signed with key id {previous}: "
            "the key was lost or replaced, and the records before it are vouched for by the new key alone",
        )
    found, seq = str(details.get("found", "")), details.get("seq")
    at = seq if isinstance(seq, int) else note.seq
    why = str(details.get("why", found))
    if found == "unsigned":
        first = first_unsigned or at
        return Finding(
            "signature",
            first,
            f"record {note.seq} notes that the coordinator found record {at} not signed with its key ({why}); "
            f"the unsigned records start at {first}",
        )
    return Finding(NOTE_CHECKS.get(found, "tamper"), at, f"record {note.seq} notes that the coordinator found {why}")
