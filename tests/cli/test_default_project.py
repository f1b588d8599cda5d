"""`kiln project use P`: one default project per KILN_HOME, which every project-scoped command takes the
same way (-p/--project first, then $KILN_PROJECT, then the default), with one error when there is none."""

from __future__ import annotations

import argparse
import json

import pytest

from kiln.cli import build_parser
from tests.conftest import start_coordinator
from tests.treeutil import write

NO_PROJECT = "error: no project: pass -p P or run kiln project use P\n"

# Every command that works inside one project, as typed; each must take -p/--project.
PROJECT_SCOPED = (
    ("run",),
    ("runs",),
    ("push",),
    ("pull",),
    ("snapshots",),
    ("diff",),
    ("datasets",),
    ("dataset", "create"),
    ("model", "register"),
    ("model", "list"),
    ("model", "show"),
    ("model", "request"),
    ("model", "review"),
    ("model", "history"),
    ("model", "policy"),
    ("lineage",),
    ("comment",),
    ("comments",),
    ("env", "create"),
    ("env", "list"),
    ("env", "show"),
    ("env", "default"),
    ("env", "diff"),
    ("env", "log"),
    ("deploy", "create"),
    ("deploy", "list"),
    ("score",),
    ("mlflow", "env"),
    ("workspace", "start"),
    ("workspace", "list"),
    ("workspace", "show"),
    ("workspace", "stop"),
    ("workspace", "save"),
    ("workspace", "open"),
    ("workspace", "port"),
    ("workspace", "share"),
    ("schedule", "create"),
    ("schedule", "list"),
    ("schedule", "show"),
    ("schedule", "pause"),
    ("schedule", "resume"),
    ("schedule", "delete"),
    ("monitor", "create"),
    ("monitor", "show"),
    ("monitor", "run"),
    ("monitor", "delete"),
    ("monitor", "list"),
    ("alerts",),
    ("alert", "dead-letters"),
    ("alert", "channel", "add"),
    ("alert", "channel", "test"),
    ("alert", "channel", "remove"),
    ("alert", "channel", "list"),
)


def _subparser(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> argparse.ArgumentParser:
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*words, name))
    return found or [words]


@pytest.mark.parametrize("words", PROJECT_SCOPED, ids=" ".join)
def test_every_project_scoped_command_takes_the_project_the_same_way(words):
    option = next(a for a in _subparser(build_parser(), words)._actions if a.dest == "project")
    assert option.option_strings == ["--project", "-p"]
    assert option.default is None  # resolved when the command runs: $KILN_PROJECT, then kiln project use's
    assert "kiln project use" in option.help


def test_no_other_command_takes_a_project_option_in_another_way():
    for words in _commands(build_parser()):
        options = [a for a in _subparser(build_parser(), words)._actions if a.dest == "project" and a.option_strings]
        assert not options or words in PROJECT_SCOPED, words


def test_project_use_sets_the_default_that_commands_use(signed_in_cli, coordinator, tmp_path, monkeypatch):
    cli = signed_in_cli
    cli.ok("project", "create", "demo")
    cli.ok("project", "create", "other")
    src = tmp_path / "src"
    write(src, "a.txt", "a")
    assert cli("snapshots").err == NO_PROJECT and cli("snapshots").code == 1
    assert cli("push", src).err == NO_PROJECT
    assert cli("project", "use").err == NO_PROJECT

    assert "default project: demo" in cli.ok("project", "use", "demo")
    assert cli.ok("project", "use") == "demo (from kiln project use)\n"
    pushed = json.loads(cli.ok("push", src, "--json"))
    assert [s["id"] for s in json.loads(cli.ok("snapshots", "--json"))] == [pushed["snapshot"]]
    assert json.loads(cli.ok("project", "show", "--json"))["name"] == "demo"
    assert json.loads(cli.ok("datasets", "--json")) == [] and json.loads(cli.ok("model", "list", "--json")) == []
    assert json.loads(cli.ok("snapshots", "-p", "other", "--json")) == []  # -p wins
    monkeypatch.setenv("KILN_PROJECT", "other")
    assert json.loads(cli.ok("snapshots", "--json")) == []  # then $KILN_PROJECT
    assert cli.ok("project", "use") == "other (from $KILN_PROJECT)\n"
    monkeypatch.delenv("KILN_PROJECT")

    refused = cli("project", "use", "ghost")
    assert refused.code == 1 and "no project named 'ghost'" in refused.err
    assert cli.ok("project", "use") == "demo (from kiln project use)\n"  # a refusal changes nothing

    cli.sign_in(coordinator)  # signing in again to the same coordinator keeps it
    assert cli.ok("project", "use") == "demo (from kiln project use)\n"
    second = start_coordinator(tmp_path / "second")
    try:
        cli.sign_in(second)  # another coordinator's projects are others: no default there
        assert cli("project", "use").err == NO_PROJECT
    finally:
        second.stop()
    cli.sign_in(coordinator)
    cli.ok("project", "use", "demo")
    assert "no default project" in cli.ok("project", "use", "--clear")
    assert cli("snapshots").err == NO_PROJECT
    assert cli("project", "use", "demo", "--clear").code == 1
