"""The `kiln` command line against a real coordinator, as a person or a script would use it."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import keyring
import keyring.backends.fail
import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.treeutil import sample_project, tree, write


def test_login_pins_the_ca_and_keeps_the_token_out_of_files(signed_in_cli, coordinator):
    me = json.loads(signed_in_cli.ok("whoami", "--json"))
    assert me["user"] == "admin" and me["admin"] is True
    assert me["fingerprint"] == coordinator.ctx.tls.ca_fingerprint
    config = json.loads((signed_in_cli.home / "config.json").read_text())
    assert config["server"] == coordinator.address and "BEGIN CERTIFICATE" in config["ca_pem"]
    assert "kiln_" not in (signed_in_cli.home / "config.json").read_text()
    assert not (signed_in_cli.home / "token").exists()


def test_login_refuses_a_fingerprint_that_does_not_match(cli, coordinator):
    result = cli(
        "login",
        coordinator.address,
        "--user",
        "admin",
        "--password-stdin",
        "--fingerprint",
        "SHA256:" + "0" * 64,
        stdin=ADMIN_PASSWORD + "\n",
    )
    assert result.code == 1 and "intercepted" in result.err
    assert not (cli.home / "config.json").exists()


def test_login_without_a_terminal_or_fingerprint_says_what_to_pass(cli, coordinator):
    result = cli("login", coordinator.address, "--user", "admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    assert result.code == 1 and "pass it as an option" in result.err


def test_without_a_keyring_the_token_goes_to_a_private_file_and_the_user_is_told(cli, coordinator):
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        result = cli(
            "login",
            coordinator.address,
            "--user",
            "admin",
            "--password-stdin",
            "--fingerprint",
            coordinator.ctx.tls.ca_fingerprint,
            stdin=ADMIN_PASSWORD + "\n",
        )
        assert result.code == 0 and "no system keyring" in result.err
        token_file = cli.home / "token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert json.loads(cli.ok("whoami", "--json"))["user"] == "admin"
    finally:
        keyring.set_keyring(previous)


def test_logout_revokes_and_forgets(signed_in_cli):
    signed_in_cli.ok("logout")
    result = signed_in_cli("whoami")
    assert result.code == 1 and "kiln login" in result.err


def test_errors_are_one_line_and_exit_non_zero(signed_in_cli):
    result = signed_in_cli("project", "show", "nope")
    assert result.code == 1 and result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert signed_in_cli("project").code == 2  # a group without its sub-command prints help


def test_projects_and_members_from_the_command_line(signed_in_cli):
    cli = signed_in_cli
    cli.ok("project", "create", "vision", "-d", "image models")
    cli.ok("user", "create", "bob", "--password-stdin", stdin="bob-password\n")
    cli.ok("project", "add-member", "vision", "bob", "--role", "editor")
    shown = json.loads(cli.ok("project", "show", "vision", "--json"))
    assert shown["members"] == {"admin": "owner", "bob": "editor"}
    listed = json.loads(cli.ok("project", "list", "--json"))
    assert [p["name"] for p in listed] == ["vision"]
    assert [u["name"] for u in json.loads(cli.ok("user", "list", "--json"))] == ["admin", "bob"]
    cli.ok("project", "archive", "vision")
    assert json.loads(cli.ok("project", "list", "--json")) == []


def test_push_pull_snapshots_and_diff(signed_in_cli, tmp_path):
    cli = signed_in_cli
    cli.ok("project", "create", "demo")
    src = sample_project(tmp_path / "src")
    first = json.loads(cli.ok("push", src, "--project", "demo", "-m", "first", "--json"))
    assert set(first) >= {"snapshot", "files", "bytes_total", "bytes_uploaded"}
    # dup1.txt and dup2.txt hold the same 4 bytes: content travels once
    assert first["bytes_uploaded"] == first["bytes_total"] - len("same") > 0
    again = json.loads(cli.ok("push", src, "--project", "demo", "--json"))
    assert again["snapshot"] == first["snapshot"] and again["bytes_uploaded"] == 0
    write(src, "new.txt", "n")
    os.remove(src / "data" / "dup1.txt")
    write(src, "train.py", "print('v2')\n", 0o755)
    second = json.loads(cli.ok("push", src, "--project", "demo", "-m", "second", "--json"))
    assert second["bytes_uploaded"] == len("n") + len("print('v2')\n")
    d = json.loads(cli.ok("diff", first["snapshot"], second["snapshot"], "--json"))
    assert (d["added"], d["removed"], d["changed"]) == (["new.txt"], ["data/dup1.txt"], ["train.py"])
    assert cli.ok("diff", first["snapshot"][:12], second["snapshot"][:12]).splitlines() == [
        "A new.txt",
        "D data/dup1.txt",
        "M train.py",
    ]
    listed = json.loads(cli.ok("snapshots", "--project", "demo", "--json"))
    assert [s["message"] for s in listed] == ["second", "first"] and listed[0]["parent"] == first["snapshot"]
    cli.ok("pull", second["snapshot"], tmp_path / "copy")
    assert tree(tmp_path / "copy") == {
        k: v for k, v in tree(src).items() if k.split("/")[0] not in {"run.log", "build", "secrets.txt", ".git"}
    }


def test_tokens_from_the_command_line(signed_in_cli, coordinator, monkeypatch):
    cli = signed_in_cli
    created = json.loads(cli.ok("token", "create", "--name", "ci", "--expires", "1d", "--json"))
    monkeypatch.setenv("KILN_TOKEN", created["secret"])
    assert json.loads(cli.ok("whoami", "--json"))["token"] == created["id"]
    monkeypatch.delenv("KILN_TOKEN")
    assert created["id"] in [t["id"] for t in json.loads(cli.ok("token", "list", "--json"))]
    cli.ok("token", "revoke", created["id"])
    monkeypatch.setenv("KILN_TOKEN", created["secret"])
    result = cli("whoami")
    assert result.code == 1 and "revoked" in result.err
    result = cli("token", "create", "--expires", "soon")
    assert result.code == 1 and "not a duration" in result.err


def test_audit_verify_finds_the_edited_record(signed_in_cli, coordinator):
    cli = signed_in_cli
    cli.ok("project", "create", "p1")
    cli.ok("project", "create", "p2")
    records = json.loads(cli.ok("audit", "list", "--json"))
    assert [r["action"] for r in records][-2:] == ["project.create", "project.create"]
    assert json.loads(cli.ok("audit", "verify", "--json"))["ok"] is True
    victim = records[-2]["seq"]
    with sqlite3.connect(coordinator.ctx.config.data_dir / "kiln.db") as db:
        db.execute("UPDATE audit SET target = 'p-other' WHERE seq = ?", [victim])
    result = cli("audit", "verify")
    assert result.code == 1 and f"BROKEN at record {victim}" in result.out
    verdict = json.loads(cli("audit", "verify", "--json").out)
    assert verdict["ok"] is False and verdict["first_broken_seq"] == victim


def test_help_reads_well():
    from kiln.cli import build_parser

    text = build_parser().format_help()
    for word in ("coordinator", "login", "push", "pull", "snapshots", "diff", "audit", "user", "token"):
        assert word in text
    assert "first steps" in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["push", "--help"])
