"""The one rule for names people choose: users, projects, nodes, datasets, models, aliases, tokens, label
keys and values, env var names.

A name is matched whole (so `production\\n` is not `production`), from a short charset per kind: no
control characters, no spaces at either end, nothing a path, a URL, a shell or a terminal reads specially.
Most kinds are lower-case, because they name folders on nodes and appear in URLs; a token name and a label
may use upper case, and an env var name is what POSIX shells accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kiln.core import limits
from kiln.core.errors import InvalidArgument


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    says: str  # what the rule allows, as the error tells it
    most: int = limits.NAME.most
    least: int = 1


_LOWER = NameRule(
    re.compile(r"[a-z0-9][a-z0-9._-]*"),
    "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
)
_TOKEN = NameRule(
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*"),
    "letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit",
)
_LABEL_KEY = NameRule(
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*"),
    "letters, digits, '.', '_', '/' or '-', starting with a letter or digit",
)
_LABEL_VALUE = NameRule(re.compile(r"[A-Za-z0-9._/:+-]*"), "letters, digits, '.', '_', '/', ':', '+' or '-'", least=0)
_ENV = NameRule(
    re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "letters, digits and '_', not starting with a digit", limits.ENV_NAME.most
)

RULES: dict[str, NameRule] = {
    "user": _LOWER,
    "project": _LOWER,
    "node": _LOWER,
    "dataset": _LOWER,
    "model": _LOWER,
    "environment": _LOWER,
    "alias": _LOWER,
    "runtime": _LOWER,
    "deployment": _LOWER,
    "schedule": _LOWER,
    "monitor": _LOWER,
    "workspace": _LOWER,
    "channel": _LOWER,
    "token": _TOKEN,
    "label key": _LABEL_KEY,
    "label value": _LABEL_VALUE,
    "env var": _ENV,
}


def check_name(kind: str, name: str) -> str:
    """`name` if it is a valid name of `kind` (a key of RULES); else InvalidArgument saying the rule."""
    rule = RULES[kind]
    if not (rule.least <= len(name) <= rule.most and rule.pattern.fullmatch(name)):
        span = f"1-{rule.most}" if rule.least else f"at most {rule.most}"
        noun = kind if kind.startswith("label") else f"{kind} name"
        raise InvalidArgument(f"invalid {noun} {limits.preview(name)}: use {span} {rule.says}")
    return name


def check_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    """Labels a node carries or a run asks for: the labels limits, each key and value by the label rule."""
    return limits.LABELS.check(labels, lambda k: check_name("label key", k), lambda k, v: check_name("label value", v))


def check_env(env: Mapping[str, str]) -> Mapping[str, str]:
    """A run's env vars: the env limits, a shell's names, values without NUL (which exec cannot pass)."""

    def value(key: str, text: str) -> None:
        if "\x00" in text:
            raise InvalidArgument(f"env var {limits.preview(key)}: a value cannot contain a NUL character")

    return limits.ENV.check(env, lambda k: check_name("env var", k), value)
