"""`kiln desktop` opens the app; Qt is imported only when the command runs."""

from __future__ import annotations

import argparse
import subprocess
import sys

import kiln.desktop.app
from kiln.cli import desktop


def test_the_desktop_command_calls_the_apps_main(monkeypatch):
    parser = argparse.ArgumentParser(prog="kiln")
    desktop.register(parser.add_subparsers())
    args = parser.parse_args(["desktop"])
    calls: list[list[str]] = []
    monkeypatch.setattr(kiln.desktop.app, "main", lambda argv: calls.append(argv) or 0)
    assert args.func(args) == 0 and calls == [[]]


def test_registering_the_command_does_not_import_qt():
    code = (
        "import sys, argparse; from kiln.cli import desktop; "
        "desktop.register(argparse.ArgumentParser().add_subparsers()); print('PySide6' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_tray_command_opens_the_apps_tray(monkeypatch):
    parser = argparse.ArgumentParser(prog="kiln")
    desktop.register(parser.add_subparsers())
    args = parser.parse_args(["tray"])
    calls: list[list[str]] = []
    monkeypatch.setattr(kiln.desktop.app, "main", lambda argv: calls.append(argv) or 0)
    assert args.func(args) == 0 and calls == [["tray"]]


def test_kiln_help_lists_the_tray():
    from kiln.cli import build_parser

    assert "the admin tray" in build_parser().format_help()
