"""A user's mistake reaches the coordinator's log as one WARNING line naming the call, the caller and the
reason, and the caller gets a clear error; never a traceback (which reads as a bug in Kiln) and never an
"internal error". Each case below once made one: lifetimes that are not numbers, a run asking for NaN
CPUs, an env var without a name, a NUL in a command line."""

from __future__ import annotations

import logging
import math

import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.runs import Resources, RunSpec
from tests.conftest import Cli


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="kiln")
    return caplog


def _only_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    worse = [r for r in caplog.records if r.levelno > logging.WARNING or r.exc_info]
    assert worse == [], [r.getMessage() for r in worse]
    return [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "kiln.coordinator.rpc"]


MISTAKES = {
    "api token lifetime NaN": lambda c: c.create_token("ci", math.nan),
    "api token lifetime infinite": lambda c: c.create_token("ci", math.inf),
    "join token lifetime NaN": lambda c: c.create_join_token(1, math.nan),
    "cpus NaN": lambda c: c.submit_run(RunSpec("p", ("true",), resources=Resources(cpus=math.nan))),
    "env var without a name": lambda c: c.submit_run(RunSpec("p", ("true",), env={"": "x"})),
    "env var name with =": lambda c: c.submit_run(RunSpec("p", ("true",), env={"A=B": "x"})),
    "NUL in the command": lambda c: c.submit_run(RunSpec("p", ("echo", "a\0b"))),
    "rerun_of claimed by a client": lambda c: c.submit_run(RunSpec("p", ("true",), rerun_of="r-0123456789ab")),
}


@pytest.mark.parametrize("mistake", MISTAKES, ids=list(MISTAKES))
def test_a_users_mistake_is_one_warning_line(admin, warnings, mistake):
    admin.create_project("p")
    warnings.clear()
    with pytest.raises(InvalidArgument) as refused:
        MISTAKES[mistake](admin)
    assert "internal error" not in str(refused.value) and "\n" not in str(refused.value)
    [line] = _only_warnings(warnings)
    text = line.getMessage()
    assert text.startswith("refused /kiln.v1.") and " for admin: " in text and "\n" not in text
    assert str(refused.value).split(":")[0] in text


def test_a_refusal_changes_nothing(admin, warnings):
    admin.create_project("p")
    tokens = admin.list_tokens()
    for mistake in MISTAKES.values():
        with pytest.raises(InvalidArgument):
            mistake(admin)
    assert admin.list_runs("p") == [] and admin.list_tokens() == tokens


def test_a_long_refusal_is_cut_to_one_short_line(admin, warnings):
    with pytest.raises(Exception, match="no project named"):
        admin.list_snapshots("x" * 5000)
    [line] = _only_warnings(warnings)
    assert len(line.getMessage()) < 400 and "\n" not in line.getMessage()


def test_the_command_line_refuses_lifetimes_and_sizes_that_are_not_numbers(signed_in_cli: Cli, warnings):
    for argv in (("token", "create", "--expires", "nan"), ("node", "token", "create", "--expires", "inf")):
        result = signed_in_cli(*argv)
        assert result.code == 1 and result.err.startswith("error: ") and "finite" in result.err
    result = signed_in_cli("run", "-p", "p", "--memory", "inf", "--", "true")
    assert result.code == 1 and "not a size: 'inf'" in result.err
