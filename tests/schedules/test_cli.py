"""`kiln schedule` as a person types it: create from a folder, list and show with --json and as tables,
pause, resume, delete, and a mistake answered with what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text("print('training')\n")
    monkeypatch.chdir(work)
    return work


def test_create_list_show_pause_resume_delete(signed_in_cli: Cli, folder: Path) -> None:
    cli = signed_in_cli
    cli.ok("project", "create", "demo")
    made = json.loads(cli.ok("schedule", "create", "nightly", "-p", "demo", "--cron", "0 6 * * 1-5", "--tz",
                             "Europe/Berlin", "--dataset", "events", "--json", "--", "python", "train.py"))  # fmt: skip
    assert made["command"] == ["python", "train.py"] and made["snapshot"] and made["datasets"] == ["events"]
    assert len(made["next_fires"]) == 5 and all(f["zone"].endswith(("+01:00", "+02:00")) for f in made["next_fires"])
    assert all(f["zone"][11:19] == "06:00:00" for f in made["next_fires"])
    listed = json.loads(cli.ok("schedule", "list", "-p", "demo", "--json"))
    assert [s["name"] for s in listed] == ["nightly"]
    assert "nightly" in cli.ok("schedule", "list", "-p", "demo")
    shown = cli.ok("schedule", "show", "nightly", "-p", "demo")
    assert "Europe/Berlin" in shown and "next fires" in shown and "no fires yet" in shown
    assert json.loads(cli.ok("schedule", "pause", "nightly", "-p", "demo", "--json"))["state"] == "paused"
    assert json.loads(cli.ok("schedule", "resume", "nightly", "-p", "demo", "--json"))["state"] == "active"
    cli.ok("schedule", "delete", "nightly", "-p", "demo")
    assert json.loads(cli.ok("schedule", "list", "-p", "demo", "--json")) == []


def test_mistakes_say_what_to_fix(signed_in_cli: Cli, folder: Path) -> None:
    cli = signed_in_cli
    cli.ok("project", "create", "demo")
    bad = cli("schedule", "create", "x", "-p", "demo", "--cron", "0 6 * * *", "--", "true")
    assert bad.code != 0 and "--tz" in bad.err and "Traceback" not in bad.err
    neither = cli("schedule", "create", "x", "-p", "demo", "--every", "1h")
    assert neither.code != 0 and "-- CMD" in neither.err
    zone = cli("schedule", "create", "x", "-p", "demo", "--cron", "0 6 * * *", "--tz", "Europe/Berln", "--", "true")
    assert zone.code != 0 and "Europe/Berln" in zone.err
    assert json.loads(cli.ok("schedule", "list", "-p", "demo", "--json")) == []
