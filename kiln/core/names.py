"""Names people give things (users, projects): short, lower-case, safe in paths and URLs."""

from __future__ import annotations

import re

from kiln.core.errors import InvalidArgument

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_name(kind: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid {kind} name {name!r}: use 1-63 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return name
