"""Join tokens: what an admin hands to a new node. The token carries the coordinator's CA fingerprint, so
the agent can pin the CA before it sends anything."""

from __future__ import annotations

from kiln.core.errors import InvalidArgument
from kiln.core.hashing import is_digest

PREFIX = "kjt_"


def make(ca_fingerprint: str, secret: str) -> str:
    return f"{PREFIX}{ca_fingerprint.removeprefix('SHA256:')}_{secret}"


def parse(token: str) -> tuple[str, str]:
    """(CA fingerprint "SHA256:…", secret) of a join token."""
    body = token.strip()
    if not body.startswith(PREFIX):
        raise InvalidArgument("not a Kiln join token (it starts with kjt_); create one with kiln node token create")
    fp, _, secret = body[len(PREFIX) :].partition("_")
    if not is_digest(fp) or not secret:
        raise InvalidArgument("the join token is damaged (copy it whole)")
    return "SHA256:" + fp, secret
