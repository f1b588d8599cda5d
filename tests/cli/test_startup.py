"""The command line starts fast because it imports only what the command in hand needs: `kiln --version`
and `kiln --help` no command module at all, `kiln X --help` none of X's heavy dependencies, and `kiln runs`
the client but no sync code, rich, server or desktop. Checked by what a fresh interpreter has imported,
never by timing; bench/cli_startup.py gives the figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kiln.cli import COMMANDS, GC_THRESHOLD, SERVICES, build_parser, main
from kiln.config import Profile, save_profile

# Runs `kiln` in a fresh interpreter and reports its exit code, output and every module it imported.
PROBE = """
import contextlib, io, json, sys
from kiln.cli import main
out, err, code = io.StringIO(), io.StringIO(), None
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    for argv in json.loads(sys.argv[1]):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "modules": sorted(sys.modules)}))
"""

# What no command may import before it runs.
HEAVY = (
    "grpc",
    "google.protobuf",
    "rich",
    "keyring",
    "cryptography",
    "paramiko",
    "PySide6",
    "kiln.client",
    "kiln.serde",
    "kiln.proto",
    "kiln.config",
    "kiln.pinning",
    "kiln.sync.push",
    "kiln.sync.pull",
    "kiln.coordinator",
    "kiln.agent",
    "kiln.desktop",
    "kiln.installers",
)


def probe(*argvs: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argvs)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def among(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def command_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith("kiln.cli.")]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []], ids=["version", "help", "bare"])
def test_version_and_help_import_no_command_module(argv):
    found = probe(argv)
    assert among(found["modules"], HEAVY) == []
    assert command_modules(found["modules"]) == []
    if argv == ["--version"]:
        assert found["code"] == 0 and found["out"].startswith("kiln ")
    else:
        listing = found["out"] if argv else found["err"]
        assert all(name in listing for name, _, _ in COMMANDS)


def test_a_commands_help_imports_none_of_its_heavy_dependencies():
    found = probe(*([name, "--help"] for name, _, _ in COMMANDS))
    assert among(found["modules"], HEAVY) == []


def help_of(capsys: pytest.CaptureFixture[str], run: Any) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        run()
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_quick_help_is_the_full_parsers_help(capsys):
    assert help_of(capsys, lambda: main(["--help"])) == build_parser().format_help()
    assert main([]) == 2
    assert capsys.readouterr().err == build_parser().format_help()


@pytest.mark.parametrize("name", [name for name, _, _ in COMMANDS])
def test_each_commands_help_is_the_full_parsers(name, capsys):
    """Also proves the table names the module that registers each command."""
    assert help_of(capsys, lambda: main([name, "--help"])) == help_of(
        capsys, lambda: build_parser().parse_args([name, "--help"])
    )


def test_an_unknown_command_is_refused_as_before(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    quick = capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["frobnicate"])
    assert exit_.value.code == 2 and quick == capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in quick


def test_kiln_runs_imports_the_client_but_no_sync_rich_server_or_desktop(signed_in_cli):
    signed_in_cli.ok("project", "create", "demo")
    found = probe(["runs", "--json", "--project", "demo"])
    assert found["code"] == 0, found["err"]
    assert json.loads(found["out"]) == []
    assert "kiln.client" in found["modules"]
    unneeded = ("rich", "cryptography", "paramiko", "PySide6", "kiln.pinning", "kiln.sync.push", "kiln.sync.pull")
    assert among(found["modules"], (*unneeded, "kiln.coordinator", "kiln.agent", "kiln.desktop")) == []
    assert set(command_modules(found["modules"])) <= {
        "kiln.cli.common",
        "kiln.cli.output",
        "kiln.cli.progress",
        "kiln.cli.runs",
        "kiln.cli.session",
    }


def test_a_token_in_the_fallback_file_is_read_without_loading_keyring(tmp_path: Path):
    """The file exists only where the sign-in found no keyring; looking through every backend again (~100 ms)
    would find none."""
    save_profile(Profile("127.0.0.1:1", "SHA256:" + "0" * 64, "PEM", "ann"), tmp_path)
    (tmp_path / "token").write_text("kiln_secret\n")
    (tmp_path / "token").chmod(0o600)
    code = "import sys; from kiln.config import *; print(load_token(load_profile()), 'keyring' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "KILN_TOKEN"} | {"KILN_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["kiln_secret", "False"]


GC_PROBE = """
import gc, sys
from kiln.cli import main
default, sys.argv = gc.get_threshold()[0], ["kiln", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(default, gc.get_threshold()[0], gc.get_freeze_count() > 0, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["push", "--help"], ["coordinator", "--help"]])
def test_a_one_shot_process_skips_the_collectors_walks_and_a_service_keeps_them(argv):
    """Only `kiln` as its own process is tuned (main() called with no argv); the services keep the
    interpreter's default threshold, and every process freezes what it made before it exits."""
    done = subprocess.run([sys.executable, "-c", GC_PROBE, *argv], capture_output=True, text=True, check=True)
    default, threshold, frozen = done.stderr.split()
    assert threshold == (default if argv[0] in SERVICES else str(GC_THRESHOLD)) and frozen == "True"
    assert done.stdout  # the command itself ran as before
