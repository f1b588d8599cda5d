"""The audit log proves itself: every record is signed with a key the database does not hold, the
coordinator keeps a signed checkpoint beside that key, and an admin can keep an anchor elsewhere. Each
attack is made the way an attacker would make it, by writing the real coordinator's SQLite database (and,
where the attack needs it, its data folder) directly; `verify` must name what was done and where."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiln.coordinator.ops.backup import backup, restore
from kiln.coordinator.pki import AUDIT_CHECKPOINT, AUDIT_KEY, AuditKey
from kiln.coordinator.server import RunningCoordinator
from kiln.core.audit import ANCHOR_PREFIX, Checkpoint, format_anchor, record_hash, statement
from kiln.core.errors import FailedPrecondition, InvalidArgument
from tests.conftest import ADMIN_PASSWORD, login, start_coordinator

Row = dict[str, Any]


def _data(rc: RunningCoordinator) -> Path:
    return rc.ctx.config.data_dir


def _rows(rc_or_data: RunningCoordinator | Path) -> list[Row]:
    data = rc_or_data if isinstance(rc_or_data, Path) else _data(rc_or_data)
    conn = sqlite3.connect(data / "kiln.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    finally:
        conn.close()


def _write(data: Path, sql: str, params: list[Any] | None = None) -> None:
    conn = sqlite3.connect(data / "kiln.db")
    with conn:
        conn.execute(sql, params or [])
    conn.close()


def _forge(data: Path, actor: str, action: str, target: str) -> int:
    """Appends a record with a correct hash, as someone who can write the database but has no key."""
    last = _rows(data)[-1]
    seq, at, details = last["seq"] + 1, last["time"] + 1, "{}"
    digest = record_hash(seq, at, actor, action, target, details, last["hash"])
    _write(
        data,
        "INSERT INTO audit (seq, time, actor, action, target, details_json, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        [seq, at, actor, action, target, details, last["hash"], digest],
    )
    return seq


def _rewrite(data: Path, victim: int, edit: Callable[[Row], None], key: AuditKey | None = None) -> None:
    """Edits record `victim` and recomputes every hash from there on, so the chain's links all hold;
    with `key`, also signs each rewritten record with it (someone holding a key)."""
    rows = _rows(data)
    conn = sqlite3.connect(data / "kiln.db")
    with conn:
        prev = None
        for r in rows:
            if r["seq"] < victim:
                prev = r["hash"]
                continue
            if r["seq"] == victim:
                edit(r)
            r["prev_hash"] = prev or r["prev_hash"]
            r["hash"] = record_hash(
                r["seq"], r["time"], r["actor"], r["action"], r["target"], r["details_json"], r["prev_hash"]
            )
            if key is not None:
                r["signature"] = key.sign(statement("record", r["seq"], r["hash"], r["time"]))
                r["signed_by"] = key.key_id
            conn.execute(
                "UPDATE audit SET target = ?, prev_hash = ?, hash = ?, signature = ?, signed_by = ? WHERE seq = ?",
                [r["target"], r["prev_hash"], r["hash"], r["signature"], r["signed_by"], r["seq"]],
            )
            prev = r["hash"]
    conn.close()


def _other_key() -> AuditKey:
    return AuditKey(Ed25519PrivateKey.generate())


def _busy(client: Any, n: int, prefix: str = "p") -> None:
    for i in range(n):
        client.create_project(f"{prefix}{i}")


def test_a_clean_chain_verifies_with_and_without_an_anchor(coordinator, admin):
    _busy(admin, 3)
    v = admin.verify_audit()
    assert v.ok and v.findings == () and v.signed_seq == v.records == len(_rows(coordinator))
    assert v.key == coordinator.ctx.store.audit_seal.key.fingerprint

    anchor = admin.audit_anchor()
    assert (anchor.seq, anchor.key) == (v.records, v.key)
    _busy(admin, 2, "later")  # the log moves on past the anchor
    later = admin.verify_audit(format_anchor(anchor))
    assert later.ok and later.records == anchor.seq + 2


def test_the_audit_key_is_0600_beside_the_ca_and_never_in_the_database(coordinator, admin):
    _busy(admin, 2)
    pki = _data(coordinator) / "pki"
    key_path = pki / AUDIT_KEY
    assert key_path.stat().st_mode & 0o777 == 0o600 and (pki / "ca.key").exists()
    private = serialization.load_pem_private_key(key_path.read_bytes(), None)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem_body = b"".join(key_path.read_bytes().splitlines()[1:-1])
    for f in _data(coordinator).glob("kiln.db*"):
        held = f.read_bytes()
        assert raw not in held and pem_body not in held, f"{f.name} holds the audit key"
    key_id = coordinator.ctx.store.audit_seal.key.key_id
    assert {(r["signed_by"], bool(r["signature"])) for r in _rows(coordinator)} == {(key_id, True)}


def test_a_forged_append_with_a_correct_hash_is_named_even_after_more_records(coordinator, admin):
    _busy(admin, 2)
    forged = _forge(_data(coordinator), "admin", "project.archive", "p0")
    v = admin.verify_audit()
    assert not v.ok and v.first_broken_seq == forged and v.findings[0].check == "signature"
    assert "unsigned tail: 1 record" in v.reason and "forged append" in v.reason
    with pytest.raises(FailedPrecondition, match="kiln audit verify"):
        admin.audit_anchor()  # no anchor vouches for a forged head

    _busy(admin, 2, "after")  # the coordinator does not launder the forgery by signing on top of it
    after = admin.verify_audit()
    assert not after.ok and after.first_broken_seq == forged and after.findings[0].check == "signature"
    assert f"found record {forged} not signed" in after.reason
    assert after.signed_seq == after.records  # the new records are signed, and one of them notes the forgery
    assert [r["action"] for r in _rows(coordinator)][forged] == "audit.tamper"


def test_deleting_the_newest_records_is_named_while_the_coordinator_runs(coordinator, admin):
    _busy(admin, 4)
    end = len(_rows(coordinator))
    _write(_data(coordinator), "DELETE FROM audit WHERE seq > ?", [end - 2])
    v = admin.verify_audit()
    assert not v.ok and v.findings[0].check == "truncated" and v.first_broken_seq == end - 1
    assert f"names record {end}, but the chain ends at record {end - 2}" in v.reason


def test_deleting_the_newest_records_while_it_was_stopped_is_named_from_its_checkpoint(tmp_path):
    rc = start_coordinator(tmp_path / "c")
    with login(rc, "admin", ADMIN_PASSWORD) as admin:
        _busy(admin, 3)
        kept = admin.audit_anchor()  # also rewrites the checkpoint beside the key
    rc.stop()
    _write(tmp_path / "c", "DELETE FROM audit WHERE seq > ?", [kept.seq - 3])

    again = start_coordinator(tmp_path / "c")
    try:
        with login(again, "admin", ADMIN_PASSWORD) as admin:
            v = admin.verify_audit()
            # signing in appended on top: the coordinator noted what it found before signing anything
            assert not v.ok and v.findings[0].check == "truncated" and v.first_broken_seq == kept.seq - 2
            assert f"though it had signed record {kept.seq}" in v.reason
            _busy(admin, 2, "again")
            assert not admin.verify_audit().ok  # the note stays in the log, signed
    finally:
        again.stop()


def test_an_edited_middle_record_with_the_rest_recomputed_is_named(coordinator, admin):
    _busy(admin, 5)
    victim = next(r["seq"] for r in _rows(coordinator) if r["target"] == "p2")

    def edit(r: Row) -> None:
        r["target"] = "p-other"

    _rewrite(_data(coordinator), victim, edit)
    v = admin.verify_audit()
    assert not v.ok and v.first_broken_seq == victim and v.findings[0].check == "signature"
    assert f"record {victim} has a signature that does not match it" in v.reason
    assert "rewritten" in {f.check for f in v.findings}  # and the head this coordinator wrote is gone


def test_records_and_checkpoints_signed_with_another_key_are_named(coordinator, admin):
    _busy(admin, 4)
    victim = next(r["seq"] for r in _rows(coordinator) if r["target"] == "p1")
    mallory = _other_key()

    def edit(r: Row) -> None:
        r["target"] = "p-mallory"

    _rewrite(_data(coordinator), victim, edit, key=mallory)
    v = admin.verify_audit()
    assert not v.ok and v.first_broken_seq == victim and v.findings[0].check == "signature"
    assert f"is signed by another key (key id {mallory.key_id})" in v.reason

    head = _rows(coordinator)[-1]
    forged = Checkpoint(head["seq"], head["hash"], head["time"], mallory.fingerprint, "")
    forged = Checkpoint(forged.seq, forged.hash, forged.time, forged.key, mallory.sign(forged.statement()))
    body = {"seq": forged.seq, "hash": forged.hash, "time": forged.time, "key": forged.key, "sig": forged.signature}
    (_data(coordinator) / "pki" / AUDIT_CHECKPOINT).write_text(json.dumps(body))
    v = admin.verify_audit()
    checkpoint = [f for f in v.findings if f.check == "checkpoint"]
    assert checkpoint and f"is signed by another key ({mallory.fingerprint})" in checkpoint[0].message


def test_a_replaced_key_that_re_signed_everything_is_caught_by_a_kept_anchor(tmp_path):
    rc = start_coordinator(tmp_path / "c")
    with login(rc, "admin", ADMIN_PASSWORD) as admin:
        _busy(admin, 3)
        kept = admin.audit_anchor()
    rc.stop()
    # Someone with the whole data folder: edits a record, makes their own key, re-signs the whole chain.
    data, mallory = tmp_path / "c", Ed25519PrivateKey.generate()
    pem = mallory.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (data / "pki" / AUDIT_KEY).write_bytes(pem)
    (data / "pki" / AUDIT_CHECKPOINT).unlink()

    def edit(r: Row) -> None:
        r["target"] = "p-mallory"

    _rewrite(data, 1, edit, key=AuditKey(mallory))

    again = start_coordinator(data)
    try:
        with login(again, "admin", ADMIN_PASSWORD) as admin:
            assert admin.verify_audit().ok  # holding both the database and a key, they can rewrite history…
            v = admin.verify_audit(format_anchor(kept))  # …but not past an anchor kept elsewhere
            assert not v.ok and {"key", "rewritten"} <= {f.check for f in v.findings}
            assert f"the anchor is signed by another key ({kept.key})" in v.reason
            assert f"record {kept.seq} no longer has the hash the anchor signed" in str(v.findings)
    finally:
        again.stop()


def test_a_truncated_chain_is_caught_by_a_kept_anchor_when_nothing_on_the_host_can(tmp_path):
    rc = start_coordinator(tmp_path / "c")
    with login(rc, "admin", ADMIN_PASSWORD) as admin:
        _busy(admin, 3)
        kept = admin.audit_anchor()
    rc.stop()
    data = tmp_path / "c"  # the data folder in other hands: the newest records and the checkpoint go
    _write(data, "DELETE FROM audit WHERE seq > ?", [kept.seq - 2])
    (data / "pki" / AUDIT_CHECKPOINT).unlink()

    again = start_coordinator(data)
    try:
        with login(again, "admin", ADMIN_PASSWORD) as admin:
            assert admin.verify_audit().ok  # nothing left on the host remembers the lost records
            end = len(_rows(data))  # signing in added one
            v = admin.verify_audit(format_anchor(kept))
            assert not v.ok and v.findings[0].check == "truncated" and v.first_broken_seq == end + 1
            assert f"the anchor names record {kept.seq}, but the chain ends at record {end}" in v.reason
    finally:
        again.stop()


def test_backup_and_restore_carry_the_audit_key_and_keep_verify_ok(coordinator, admin, tmp_path):
    _busy(admin, 3)
    kept = admin.audit_anchor()
    _busy(admin, 1, "later")
    backup(_data(coordinator), tmp_path / "backup")
    assert (tmp_path / "backup" / "pki" / AUDIT_KEY).stat().st_mode & 0o777 == 0o600
    restore(tmp_path / "backup", tmp_path / "restored")
    again = start_coordinator(tmp_path / "restored")
    try:
        with login(again, "admin", ADMIN_PASSWORD) as restored:
            v = restored.verify_audit(format_anchor(kept))
            assert v.ok and v.key == kept.key and v.records > kept.seq
    finally:
        again.stop()


def test_a_log_from_before_the_seal_is_taken_over_and_a_lost_key_is_named(tmp_path):
    rc = start_coordinator(tmp_path / "c")
    with login(rc, "admin", ADMIN_PASSWORD) as admin:
        _busy(admin, 2)
    rc.stop()
    data = tmp_path / "c"  # as an installation from before the seal: unsigned records, no audit key
    _write(data, "UPDATE audit SET signature = '', signed_by = ''")
    (data / "pki" / AUDIT_KEY).unlink()
    (data / "pki" / AUDIT_CHECKPOINT).unlink()
    before = len(_rows(data))

    upgraded = start_coordinator(data)
    try:
        with login(upgraded, "admin", ADMIN_PASSWORD) as admin:
            assert admin.verify_audit().ok
            [created] = [r for r in _rows(data) if r["action"] == "audit.key.create" and r["seq"] > before]
            details = json.loads(created["details_json"])
            assert details["after_seq"] == before and details["previous_key"] == ""
    finally:
        upgraded.stop()

    lost = _rows(data)[-1]["signed_by"]
    (data / "pki" / AUDIT_KEY).unlink()  # a signed log whose key is gone: named, not silently taken over
    again = start_coordinator(data)
    try:
        with login(again, "admin", ADMIN_PASSWORD) as admin:
            v = admin.verify_audit()
            assert not v.ok and v.findings[0].check == "key"
            assert f"signed with key id {lost}" in v.reason
    finally:
        again.stop()


def test_a_bad_anchor_is_refused_in_one_line_and_changes_nothing(signed_in_cli, coordinator, admin):
    before = len(_rows(coordinator))
    for bad in ("garbage", f"{ANCHOR_PREFIX}:x:y", f"{ANCHOR_PREFIX}:1:{'0' * 64}:nan:{'a' * 64}:AAAA", "x" * 5000):
        with pytest.raises(InvalidArgument, match="not a Kiln audit anchor"):
            admin.verify_audit(bad)
    result = signed_in_cli("audit", "verify", "--anchor", "garbage")
    assert result.code != 0 and "not a Kiln audit anchor" in result.err and len(result.err.strip().splitlines()) == 1
    result = signed_in_cli("audit", "verify", "--anchor", "@/nonexistent/anchor")
    assert result.code != 0 and "cannot read the anchor" in result.err
    assert len(_rows(coordinator)) == before

    anchor = admin.audit_anchor()
    altered = Checkpoint(anchor.seq, "f" * 64, anchor.time, anchor.key, anchor.signature)
    v = admin.verify_audit(format_anchor(altered))
    assert not v.ok and v.findings[0].check == "key" and "does not verify" in v.reason


def test_the_cli_prints_an_anchor_and_verifies_the_log_against_it(signed_in_cli, coordinator, tmp_path):
    cli = signed_in_cli
    cli.ok("project", "create", "p1")
    result = cli("audit", "anchor")
    line = result.out.strip()
    assert result.code == 0 and line.startswith(ANCHOR_PREFIX + ":") and len(result.out.splitlines()) == 1
    key = coordinator.ctx.store.audit_seal.key.fingerprint
    assert key in result.err
    shown = json.loads(cli.ok("audit", "anchor", "--json"))
    assert shown["key"] == key and shown["anchor"].startswith(ANCHOR_PREFIX)

    cli.ok("project", "create", "p2")
    assert "reaches the anchor" in cli.ok("audit", "verify", "--anchor", line)
    (tmp_path / "anchor.txt").write_text(line + "\n")
    assert "intact" in cli.ok("audit", "verify", "--anchor", f"@{tmp_path / 'anchor.txt'}")

    seq = int(line.split(":")[1])
    _write(_data(coordinator), "DELETE FROM audit WHERE seq >= ?", [seq])
    result = cli("audit", "verify", "--anchor", line)
    assert result.code == 1 and f"BROKEN at record {seq}" in result.out and "truncated" in result.out
    verdict = json.loads(cli("audit", "verify", "--anchor", line, "--json").out)
    assert verdict["ok"] is False and verdict["check"] == "truncated" and verdict["first_broken_seq"] == seq
