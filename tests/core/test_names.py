"""The one name rule, kind by kind: matched whole (a trailing newline is not ignored), from a short
charset, within a length; through the real server per entity kind is tests/coordinator/test_names.py."""

from __future__ import annotations

import pytest

from kiln.core.errors import InvalidArgument
from kiln.core.names import RULES, check_env, check_labels, check_name

GOOD = {
    "user": ["alice", "a", "bob.smith", "x_1-2", "a" * 63],
    "project": ["vision", "0day"],
    "node": ["gpu-01", "n1"],
    "dataset": ["images"],
    "model": ["churn"],
    "environment": ["ml", "torch-2.5"],
    "alias": ["production", "staging", "champion-2"],
    "runtime": ["docker", "process"],
    "deployment": ["churn", "fraud-v2", "scoring.eu"],
    "schedule": ["nightly", "retrain-on-drift"],
    "monitor": ["churn-watch", "m1"],
    "workspace": ["notebook", "ana-gpu.2"],
    "channel": ["ops", "on-call_2"],
    "token": ["laptop", "CI-runner@build+1", "kiln-up"],
    "label key": ["zone", "kiln.io/gpu", "Disk"],
    "label value": ["a", "eu-west-1", "3.11", "true", "", "A100"],
    "env var": ["PATH", "_X", "a1", "A" * 128],
}
BAD_FOR_ALL = ["x\n", "\nx", " x", "x ", "x\ty", "x\x00", "x\x1b[0m", "x\u200b", "x y", "é"]


@pytest.mark.parametrize("kind", sorted(RULES))
def test_each_kind_takes_its_names_and_refuses_control_characters_and_spaces(kind):
    for name in GOOD[kind]:
        assert check_name(kind, name) == name
    for name in BAD_FOR_ALL:
        with pytest.raises(InvalidArgument, match=f"^invalid {kind}"):
            check_name(kind, name)


@pytest.mark.parametrize(
    "kind, name",
    [
        ("user", "Alice"),
        ("project", ".hidden"),
        ("alias", "-x"),
        ("node", "a/b"),
        ("user", "a" * 64),
        ("token", "t" * 64),
        ("env var", "1A"),
        ("env var", "A=B"),
        ("env var", "A" * 129),
        ("label key", "/zone"),
        ("label value", "a" * 64),
        ("user", ""),
        ("token", ""),
    ],
)
def test_what_a_kind_does_not_allow(kind, name):
    with pytest.raises(InvalidArgument):
        check_name(kind, name)


def test_production_with_a_newline_is_not_production():
    with pytest.raises(InvalidArgument, match=r"^invalid alias name 'production\\n': use 1-63"):
        check_name("alias", "production\n")


def test_labels_and_env_use_the_rule_and_the_limits():
    assert check_labels({"zone": "a", "gpu": ""}) == {"zone": "a", "gpu": ""}
    with pytest.raises(InvalidArgument, match="invalid label value"):
        check_labels({"zone": "a\n"})
    with pytest.raises(InvalidArgument, match="labels has 33 entries"):
        check_labels({f"k{i}": "v" for i in range(33)})
    with pytest.raises(InvalidArgument, match="cannot contain a NUL"):
        check_env({"A": "a\0b"})
