"""Reading and verifying the audit chain (records are appended by the store, inside each change)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kiln.coordinator.access import require_admin
from kiln.coordinator.pki import AUDIT_CHECKPOINT, ensure_audit_key
from kiln.coordinator.store import SqliteStore
from kiln.coordinator.store.audit import AuditSeal
from kiln.core.audit import (
    AuditRecord,
    ChainVerdict,
    ChainWalk,
    Checkpoint,
    Finding,
    note_finding,
    note_unsigned_seq,
    parse_anchor,
    reference_finding,
    tail_finding,
    unsigned_tail,
    verdict,
    verify_chain,
)
from kiln.core.defaults import AUDIT_PAGE
from kiln.core.paging import Page, PageRequest, page_of
from kiln.core.permissions import Principal


def list_audit(
    store: SqliteStore, who: Principal, after_seq: int, actor: str, action_prefix: str, page: PageRequest
) -> Page[AuditRecord]:
    """One page of the records after `after_seq` (or after the page token's record), oldest first."""
    require_admin(who, "reading the audit log")
    after = int(page.after[0]) if page.after else after_seq
    return page_of(store.audit(after, page.size + 1, actor, action_prefix), page.size, lambda r: (r.seq,))


def verify(store: SqliteStore, who: Principal, anchor_text: str = "") -> ChainVerdict:
    """The chain, its seal, and the checkpoints it must still reach: what this coordinator last wrote,
    the checkpoint beside its key and, when given, an admin's anchor. Reads the whole log: heavy lane."""
    require_admin(who, "verifying the audit log")
    anchor = parse_anchor(anchor_text) if anchor_text.strip() else None
    seal = store.audit_seal
    if seal is None:
        return verify_chain(_all_records(store))
    findings: list[Finding] = []
    refs: list[tuple[str, Checkpoint]] = []  # read before the walk, so records added meanwhile are past them
    if anchor is not None:
        problem = seal.checkpoint_problem(anchor)
        if problem:
            findings.append(Finding("key", anchor.seq, f"the anchor {problem}"))
        if anchor.key != seal.key.fingerprint or not problem:  # another key's anchor still says what was
            refs.append(("the anchor", anchor))
    if seal.head is not None:
        refs.append(("the record this coordinator last wrote", seal.head))
    saved = seal.load()
    if saved.problem:
        at = saved.checkpoint.seq if saved.checkpoint else 0
        findings.append(Finding("checkpoint", at, f"the coordinator's checkpoint {saved.problem}"))
    elif saved.checkpoint is not None:
        refs.append((f"the coordinator's checkpoint ({seal.path.name})", saved.checkpoint))

    walk = ChainWalk(want={cp.seq for _, cp in refs})
    for page in _pages(store):
        if not walk.feed(page):
            break
    if walk.broken:
        return verdict(walk.count, [walk.broken, *findings], key=seal.key.fingerprint)
    tail = unsigned_tail(_newest_first(store, walk.head_seq + 1), seal.signed)
    found = [tail_finding(tail, seal.key.key_id)]
    found += [reference_finding(label, cp, walk) for label, cp in refs]
    for note in walk.notes:
        first = 0
        if unsigned := note_unsigned_seq(note):
            forged = unsigned_tail(_newest_first(store, unsigned + 1), seal.signed)
            first = forged.oldest.seq if forged.oldest else unsigned
        found.append(note_finding(note, seal.key.key_id, first))
    seen = {(f.check, f.seq) for f in findings}
    for f in found:
        if f is not None and (f.check, f.seq) not in seen:  # two checkpoints naming one truncation: once
            seen.add((f.check, f.seq))
            findings.append(f)
    return verdict(walk.count, findings, tail.signed_seq, seal.key.fingerprint)


def anchor(store: SqliteStore, who: Principal) -> Checkpoint:
    """The head, signed now: a line for an admin to keep off this host and verify against later."""
    require_admin(who, "anchoring the audit log")
    return store.audit_anchor()


def seal_audit_log(store: SqliteStore, pki: Path) -> None:
    """Signs every audit record from now on, with the audit key in `pki` (made on first start)."""
    key, created = ensure_audit_key(pki)
    store.seal_audit(AuditSeal(key, pki / AUDIT_CHECKPOINT), created)


def _pages(store: SqliteStore) -> Iterator[list[AuditRecord]]:
    after = 0
    while page := store.audit(after, AUDIT_PAGE * 10):
        yield page
        after = page[-1].seq


def _all_records(store: SqliteStore) -> Iterator[AuditRecord]:
    for page in _pages(store):
        yield from page


def _newest_first(store: SqliteStore, before_seq: int) -> Iterator[AuditRecord]:
    while page := store.audit_newest_first(before_seq, AUDIT_PAGE):
        yield from page
        before_seq = page[-1].seq
