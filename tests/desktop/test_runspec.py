"""What the launch dialog's fields mean (the same rules as `kiln run`), and the rows the run views show:
plain functions, tested without widgets."""

from __future__ import annotations

import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.models import RunRecord
from kiln.core.runs import Priority, Resources, Run, RunSpec, RunState
from kiln.desktop.pages.compare.rows import detail_rows, differing
from kiln.desktop.pages.runs.rows import duration_s, format_duration, state_text
from kiln.desktop.pages.runs.runspec import LaunchForm, build_spec


def test_a_full_form_becomes_the_run_spec():
    form = LaunchForm(
        "p",
        "python train.py --name 'two words'",
        image="python:3.11",
        runtime="docker",
        cpus=2.5,
        memory="4G",
        gpus=2,
        gpu_model="a100",
        priority="high",
        labels="zone=a, disk=ssd",
        env="LR=0.01\n\nNOTE=a=b\n",
        network="bridge",
        retries=3,
    )
    spec = build_spec(form, "snap")
    assert spec == RunSpec(
        "p",
        ("python", "train.py", "--name", "two words"),
        "snap",
        "python:3.11",
        "docker",
        Resources(2.5, 4 * 1024**3, 2, "a100"),
        Priority.HIGH,
        {"zone": "a", "disk": "ssd"},
        3,
        {"LR": "0.01", "NOTE": "a=b"},
        "bridge",
    )
    assert build_spec(LaunchForm("p", "true")).runtime == ""  # "any"


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (LaunchForm("p", ""), "enter the command"),
        (LaunchForm("p", "echo 'unclosed"), "check its quotes"),
        (LaunchForm("p", "true", memory="lots"), "memory"),
        (LaunchForm("p", "true", labels="zone"), "label 'zone' must look like KEY=VALUE"),
        (LaunchForm("p", "true", env="=x"), "environment variable"),
        (LaunchForm("", "true"), "choose a project"),
    ],
)
def test_a_wrong_field_is_named(form, words):
    with pytest.raises(InvalidArgument, match=words):
        build_spec(form)


def test_durations_states_and_differences():
    spec = RunSpec("p", ("true",))
    running = Run("a", spec, "u", RunState.RUNNING, 0, started_at=100)
    failed = Run("b", spec, "u", RunState.FAILED, 0, exit_code=2, started_at=100, finished_at=190)
    assert duration_s(running, 130) == 30 and duration_s(failed, 999) == 90
    assert format_duration(5.25) == "5.2s" and format_duration(90) == "1m 30s"
    assert format_duration(3 * 3600 + 120) == "3h 02m" and format_duration(None) == ""
    assert state_text(failed) == "failed (exit 2)"
    rows = detail_rows([RunRecord(r, {}, {}, [], [], [], [], {}) for r in (running, failed)], 130)
    assert {"state", "exit code", "duration"} <= set(differing(rows)) and "command" not in differing(rows)
