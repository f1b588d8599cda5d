"""`kiln doctor` on a workstation, a coordinator's folder and an agent's folder: it names what is wrong
and what to do, and exits non-zero when something fails."""

from __future__ import annotations

import json
import logging
import sqlite3

from kiln.cli.output import JsonLogFormatter
from kiln.doctor import run_checks
from tests.conftest import ADMIN_PASSWORD, start_coordinator


def _by_name(checks):
    return {c.name: c for c in checks}


def test_a_healthy_signed_in_workstation_and_coordinator_pass(signed_in_cli, coordinator):
    data = coordinator.ctx.config.data_dir
    out = signed_in_cli.ok("doctor", "--coordinator-data", str(data), "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert checks["sign-in"]["status"] == "ok" and "admin" in checks["sign-in"]["finding"]
    assert checks["coordinator"]["status"] == "ok"
    assert checks["schema"]["status"] == "ok" and checks["permissions"]["status"] == "ok"
    assert checks["agent reports"]["status"] == "ok"
    assert all(c["status"] != "fail" for c in checks.values()), checks


def test_problems_are_named_with_what_to_do(cli, tmp_path):
    rc = start_coordinator(tmp_path / "coordinator")
    cli.ok(
        "login",
        rc.address,
        "--user",
        "admin",
        "--password-stdin",
        "--fingerprint",
        rc.ctx.tls.ca_fingerprint,
        stdin=ADMIN_PASSWORD + "\n",
    )
    data = rc.ctx.config.data_dir
    try:
        (data / "pki" / "ca.key").chmod(0o644)
        checks = _by_name(run_checks(data, tmp_path / "no-agent-here"))
        assert checks["permissions"].status == "fail" and "chmod go-rwx" in checks["permissions"].fix
        assert checks["agent identity"].status == "fail" and "kiln node add" in checks["agent identity"].fix
        with sqlite3.connect(data / "kiln.db") as db:
            db.execute("UPDATE schema_version SET version = version + 1")
        assert _by_name(run_checks(data, None))["schema"].status == "fail"
    finally:
        rc.stop()
    result = cli("doctor")  # the coordinator this CLI signed in to is gone
    assert result.code == 1 and "is the coordinator running" in result.out


def test_an_enrolled_agent_folder_is_checked(coordinator, admin, tmp_path):
    from kiln.agent import identity

    identity.enroll(tmp_path / "agent", coordinator.address, admin.create_join_token().token, "n1", {})
    (tmp_path / "agent").chmod(0o700)
    checks = _by_name(run_checks(None, tmp_path / "agent"))
    assert checks["agent identity"].status == "ok" and "node n1" in checks["agent identity"].finding
    assert checks["permissions"].status == "ok"


def test_json_logs_are_one_object_per_line():
    record = logging.LogRecord("kiln.agent", logging.WARNING, __file__, 1, "lost %s", ("the link",), None)
    entry = json.loads(JsonLogFormatter().format(record))
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "kiln.agent", "lost the link")
