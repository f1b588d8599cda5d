from dataclasses import replace

from kiln.core.audit import GENESIS_HASH, AuditRecord, record_hash, verify_chain


def chain(n: int) -> list[AuditRecord]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        h = record_hash(seq, 1000.0 + seq, "alice", "project.create", f"p{seq}", "{}", prev)
        records.append(AuditRecord(seq, 1000.0 + seq, "alice", "project.create", f"p{seq}", "{}", prev, h))
        prev = h
    return records


def test_an_intact_chain_verifies():
    v = verify_chain(chain(5))
    assert v.ok and v.records == 5


def test_an_edited_record_is_the_first_broken_one():
    records = chain(5)
    records[2] = replace(records[2], actor="mallory")
    v = verify_chain(records)
    assert not v.ok and v.first_broken_seq == 3 and "edited" in v.reason


def test_a_removed_record_breaks_the_chain_where_it_was():
    records = chain(5)
    del records[1]
    v = verify_chain(records)
    assert not v.ok and v.first_broken_seq == 3


def test_a_rehashed_edit_still_breaks_the_next_link():
    records = chain(4)
    r = replace(records[1], target="other")
    records[1] = replace(r, hash=record_hash(r.seq, r.time, r.actor, r.action, r.target, r.details_json, r.prev_hash))
    v = verify_chain(records)
    assert not v.ok and v.first_broken_seq == 3 and "link" in v.reason
