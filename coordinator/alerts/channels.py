"""Notification channels: where a project's alerts are told (a generic JSON webhook, a Slack-compatible
incoming webhook, an email over SMTP) and from which severity up.

A channel is checked whole when a person adds it (`parse_channel`, from the options they typed) and again
when it is read back from storage (`from_json`), so the delivery loop never meets one it could not even
try: what is left to fail is the peer (down, refusing, misconfigured), and `delivery` says which of those
a retry may cure. Refusals are `InvalidChannel`, a `ValueError` that the RPC layer also maps to
INVALID_ARGUMENT, and each says what to fix; a value is only ever echoed as a short escaped prefix.

Secrets (the SMTP password, webhook headers such as Authorization, the token part of a webhook URL) never
appear in `repr`, in `to_json(hide_secrets=True)` or in delivery errors: people list channels, and logs
keep error messages.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import formataddr, getaddresses, parseaddr
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kiln.core.errors import InvalidArgument
from kiln.core.limits import preview

SEVERITIES = ("info", "warning", "critical")
KINDS = ("webhook", "slack", "email")
TLS_MODES = ("starttls", "tls", "none")
DEFAULT_SEVERITY = "warning"
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
HIDDEN = "***"

MAX_URL_CHARS = 2048
MAX_HOST_CHARS = 253
MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit, less the angle brackets
MAX_DISPLAY_NAME_CHARS = 128
MAX_RECIPIENTS = 50
MAX_HEADERS = 20
MAX_HEADER_NAME_CHARS = 64
MAX_HEADER_VALUE_CHARS = 4096  # room for a bearer token (a JWT runs to a few KiB)
MAX_USER_CHARS = 256
MAX_PASSWORD_CHARS = 1024
MAX_JSON_CHARS = 256 * 1024

_NAME = re.compile(r"[a-z0-9_-]{1,64}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL_CHARS = re.compile(r"[\x21-\x7e]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")  # HTTP sends header values as ASCII
# Headers the HTTP client sets from the request itself: a channel's own would contradict it.
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "host", "connection"})

_HTTP_OPTIONS = frozenset({"url", "min_severity", "header"})
_EMAIL_OPTIONS = frozenset(
    {"min_severity", "smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_password", "sender", "to"}
)
_OPTIONS = {"webhook": _HTTP_OPTIONS, "slack": _HTTP_OPTIONS, "email": _EMAIL_OPTIONS}


class InvalidChannel(InvalidArgument, ValueError):
    """A channel refused at the edge; the message says what to fix."""


@dataclass(frozen=True, repr=False)
class Channel:
    name: str
    kind: str  # one of KINDS
    min_severity: str  # one of SEVERITIES: this channel hears alerts of this severity and above
    url: str = ""  # webhook and slack
    smtp_host: str = ""
    smtp_port: int = 0
    # "starttls" (upgrade a plain connection, usually port 587), "tls" (implicit TLS, usually 465) or "none",
    # which only a loopback host may use: without TLS the password and the alerts' contents cross the
    # network in clear text, readable and alterable by anyone on the path. A local relay is the one case.
    smtp_tls: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    sender: str = ""  # "alerts@example.com" or "Kiln <alerts@example.com>"
    recipients: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # extra webhook headers, e.g. ("Authorization", "Bearer …")

    def __repr__(self) -> str:
        where = shown_url(self) if self.kind != "email" else f"{self.smtp_host}:{self.smtp_port}"
        return f"Channel(name={self.name!r}, kind={self.kind!r}, min_severity={self.min_severity!r}, to={where!r})"


def parse_channel(name: str, kind: str, options: Mapping[str, str]) -> Channel:
    """The channel a person described (`kiln alert channel add NAME KIND key=value…`), checked whole.

    Options: url, min_severity and header ("Name: value" lines) for webhook and slack; min_severity,
    smtp_host, smtp_port, smtp_tls, smtp_user, smtp_password, sender and to (comma-separated) for email."""
    if kind not in KINDS:
        raise InvalidChannel(f"channel kind {preview(kind)} is not one of {', '.join(KINDS)}")
    known = _HTTP_OPTIONS | _EMAIL_OPTIONS
    unknown = sorted(k for k in options if k not in known)
    if unknown:
        raise InvalidChannel(f"unknown channel option(s) {', '.join(map(preview, unknown))}: {_takes(kind)}")
    misplaced = sorted(k for k in options if k not in _OPTIONS[kind])
    if misplaced:
        raise InvalidChannel(f"option(s) {', '.join(misplaced)} do not apply to {_a(kind)} channel: {_takes(kind)}")
    for key, value in options.items():
        if not isinstance(value, str):
            raise InvalidChannel(f"option {key} must be text")
    severity = options.get("min_severity", DEFAULT_SEVERITY).strip()
    if kind != "email":
        headers = _parse_headers(options.get("header", ""))
        return validate(Channel(name, kind, severity, url=options.get("url", "").strip(), headers=headers))
    tls = options.get("smtp_tls", "starttls").strip()
    port_text = options.get("smtp_port", "").strip()
    port = DEFAULT_PORTS.get(tls, 0)
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidChannel(f"smtp_port {preview(port_text)} must be a number from 1 to 65535")
        port = int(port_text)
    sender = options.get("sender", "").strip()
    return validate(
        Channel(
            name,
            kind,
            severity,
            smtp_host=options.get("smtp_host", "").strip().strip("[]"),
            smtp_port=port,
            smtp_tls=tls,
            smtp_user=options.get("smtp_user", "").strip(),
            smtp_password=options.get("smtp_password", ""),
            sender=_canonical_address("sender", sender) if sender else "",
            recipients=_parse_recipients(options.get("to", "")),
        )
    )


def validate(channel: Channel) -> Channel:
    """`channel` if every field is one delivery can use; else InvalidChannel saying which and why."""
    if not _NAME.fullmatch(channel.name):
        raise InvalidChannel(
            f"channel name {preview(channel.name)} must be 1-64 lower-case letters, digits, '-' or '_'"
        )
    if channel.kind not in KINDS:
        raise InvalidChannel(f"channel kind {preview(channel.kind)} is not one of {', '.join(KINDS)}")
    if channel.min_severity not in SEVERITIES:
        raise InvalidChannel(f"min_severity {preview(channel.min_severity)} is not one of {', '.join(SEVERITIES)}")
    if channel.kind == "email":
        _check_email(channel)
    else:
        _check_http(channel)
    return channel


def routes(channels: Iterable[Channel], severity: str) -> list[Channel]:
    """The channels that hear an alert of `severity`: those whose min_severity is at or below it."""
    if severity not in SEVERITIES:
        raise InvalidChannel(f"severity {preview(severity)} is not one of {', '.join(SEVERITIES)}")
    rank = SEVERITIES.index(severity)
    return [c for c in channels if SEVERITIES.index(c.min_severity) <= rank]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def shown_url(channel: Channel) -> str:
    """The channel's URL as people may see it: without a password, a query string or the path after its
    first segment ("/services/***"), where webhooks carry their tokens (Slack, Teams, Discord, Mattermost)."""
    try:
        parts = urlsplit(channel.url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port is not None else ""
    if parts.username:
        netloc = f"{parts.username}:{HIDDEN}@{netloc}" if parts.password is not None else f"{parts.username}@{netloc}"
    path = parts.path
    if path.strip("/"):
        segments = path.strip("/").split("/")
        path = f"/{segments[0]}/{HIDDEN}" if len(segments) > 1 else f"/{HIDDEN}"
    return urlunsplit((parts.scheme, netloc, path, HIDDEN if parts.query else "", ""))


def to_json(channel: Channel, hide_secrets: bool = True) -> str:
    """The channel as one JSON object: for storage with hide_secrets=False, for people with it True (the
    password and header values shown as "***", the URL as `shown_url`, and "redacted": true so such a copy
    can never be stored back by mistake)."""
    record: dict[str, Any] = {"name": channel.name, "kind": channel.kind, "min_severity": channel.min_severity}
    if channel.kind == "email":
        record.update(
            smtp_host=channel.smtp_host,
            smtp_port=channel.smtp_port,
            smtp_tls=channel.smtp_tls,
            smtp_user=channel.smtp_user,
            smtp_password=HIDDEN if hide_secrets and channel.smtp_password else channel.smtp_password,
            sender=channel.sender,
            recipients=list(channel.recipients),
        )
    else:
        record["url"] = shown_url(channel) if hide_secrets else channel.url
        record["headers"] = [[n, HIDDEN if hide_secrets else v] for n, v in channel.headers]
    if hide_secrets:
        record["redacted"] = True
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def from_json(text: str) -> Channel:
    """The channel `to_json(channel, hide_secrets=False)` stored, checked again as `parse_channel` would."""
    if len(text) > MAX_JSON_CHARS:
        raise InvalidChannel(f"a stored channel is at most {MAX_JSON_CHARS} characters")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidChannel(f"a stored channel is not JSON: {e}") from None
    if not isinstance(record, dict):
        raise InvalidChannel("a stored channel must be a JSON object")
    if record.get("redacted"):
        raise InvalidChannel("this channel was written with its secrets hidden; store to_json(hide_secrets=False)")
    fields = {
        "name": str, "kind": str, "min_severity": str, "url": str, "smtp_host": str, "smtp_port": int,
        "smtp_tls": str, "smtp_user": str, "smtp_password": str, "sender": str, "recipients": list, "headers": list,
    }  # fmt: skip
    unknown = sorted(k for k in record if k not in fields)
    if unknown:
        raise InvalidChannel(f"a stored channel has unknown field(s) {', '.join(map(preview, unknown))}")
    for key, kind in fields.items():
        if key in record and (not isinstance(record[key], kind) or isinstance(record[key], bool)):
            raise InvalidChannel(f"a stored channel's {key} must be a JSON {kind.__name__}")
    for key in ("name", "kind", "min_severity"):
        if key not in record:
            raise InvalidChannel(f"a stored channel has no {key}")
    recipients = record.get("recipients", [])
    headers = record.get("headers", [])
    if not all(isinstance(r, str) for r in recipients):
        raise InvalidChannel("a stored channel's recipients must be strings")
    if not all(isinstance(h, list) and len(h) == 2 and all(isinstance(p, str) for p in h) for h in headers):
        raise InvalidChannel("a stored channel's headers must be [name, value] pairs of strings")
    values = {k: v for k, v in record.items() if k not in ("recipients", "headers")}
    return validate(Channel(**values, recipients=tuple(recipients), headers=tuple((n, v) for n, v in headers)))


def _takes(kind: str) -> str:
    return f"{_a(kind)} channel takes {', '.join(sorted(_OPTIONS[kind]))}"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _check_http(channel: Channel) -> None:
    email_only = (channel.smtp_host, channel.smtp_port, channel.smtp_user, channel.smtp_password, channel.sender)
    if any(email_only) or channel.recipients:
        raise InvalidChannel(f"a {channel.kind} channel has no SMTP settings, sender or recipients")
    url = channel.url
    if not url:
        raise InvalidChannel(f"a {channel.kind} channel needs url=https://…")
    if len(url) > MAX_URL_CHARS:
        raise InvalidChannel(f"url is {len(url)} characters; at most {MAX_URL_CHARS}")
    if not _URL_CHARS.fullmatch(url):
        raise InvalidChannel(
            f"url {preview(url)} may hold only printable ASCII without spaces: percent-encode the rest, and "
            "write an international host name in its xn-- form"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidChannel(f"url {preview(url)} must start with https:// (or http://)")
    try:
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise InvalidChannel(f"url {preview(url)} has a port that is not a number from 0 to 65535") from None
    if not host:
        raise InvalidChannel(f"url {preview(url)} names no host")
    if channel.kind == "slack" and parts.scheme != "https" and not is_loopback(host):
        raise InvalidChannel(
            f"a slack url must be https:// (plain http only to a loopback host, for a local relay): {preview(url)}"
        )
    if len(channel.headers) > MAX_HEADERS:
        raise InvalidChannel(f"a channel has at most {MAX_HEADERS} headers; {len(channel.headers)} given")
    seen: set[str] = set()
    for name, value in channel.headers:
        _check_header(name, value, seen)


def _check_header(name: str, value: str, seen: set[str]) -> None:
    if not _HEADER_NAME.fullmatch(name) or len(name) > MAX_HEADER_NAME_CHARS:
        raise InvalidChannel(
            f"header name {preview(name)} must be 1-{MAX_HEADER_NAME_CHARS} letters, digits or -, without spaces"
        )
    if name.lower() in _RESERVED_HEADERS:
        raise InvalidChannel(f"header {name} is set by Kiln itself; leave it out")
    if name.lower() in seen:
        raise InvalidChannel(f"header {name} is given twice")
    seen.add(name.lower())
    if not _HEADER_VALUE.fullmatch(value) or len(value) > MAX_HEADER_VALUE_CHARS:
        raise InvalidChannel(
            f"header {name}'s value must be at most {MAX_HEADER_VALUE_CHARS} printable ASCII characters on one "
            "line (no CR/LF)"
        )


def _check_email(channel: Channel) -> None:
    if channel.url or channel.headers:
        raise InvalidChannel("an email channel has no url or headers")
    host = channel.smtp_host
    if not host:
        raise InvalidChannel("an email channel needs smtp_host=HOST (your mail relay)")
    if len(host) > MAX_HOST_CHARS or not (_HOSTNAME.fullmatch(host) or _is_ip(host)):
        raise InvalidChannel(f"smtp_host {preview(host)} is not a host name or IP address")
    if channel.smtp_tls not in TLS_MODES:
        raise InvalidChannel(
            f"smtp_tls {preview(channel.smtp_tls)} must be starttls (port 587), tls (implicit, port 465) or none"
        )
    if not 1 <= channel.smtp_port <= 65535:
        raise InvalidChannel(f"smtp_port {channel.smtp_port} must be a number from 1 to 65535")
    if channel.smtp_tls == "none" and not is_loopback(host):
        raise InvalidChannel(
            f"smtp_tls=none would send the SMTP password and the alerts to {host} in clear text, so it is only "
            "allowed to a loopback host (a local relay); use smtp_tls=starttls or smtp_tls=tls"
        )
    user, password = channel.smtp_user, channel.smtp_password
    if bool(user) != bool(password):
        raise InvalidChannel("give both smtp_user and smtp_password, or neither (a relay that needs no login)")
    if len(user) > MAX_USER_CHARS or _CONTROL.search(user):
        raise InvalidChannel(f"smtp_user must be at most {MAX_USER_CHARS} characters without control characters")
    if len(password) > MAX_PASSWORD_CHARS or _CONTROL.search(password):
        raise InvalidChannel(
            f"smtp_password must be at most {MAX_PASSWORD_CHARS} characters without control characters"
        )
    if not channel.sender:
        raise InvalidChannel("an email channel needs sender=ADDRESS (the From: of its messages)")
    _check_address("sender", channel.sender)
    if not channel.recipients:
        raise InvalidChannel("an email channel needs to=ADDRESS[,ADDRESS…]")
    if len(channel.recipients) > MAX_RECIPIENTS:
        raise InvalidChannel(f"an email channel has at most {MAX_RECIPIENTS} recipients; {len(channel.recipients)}")
    for recipient in channel.recipients:
        _check_address("recipient", recipient)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_address(what: str, text: str) -> str:
    """The bare address in `text` ("Name <a@b>" or "a@b"), or InvalidChannel."""
    bad = InvalidChannel(f"{what} {preview(text)} is not an email address like alerts@example.com")
    if len(text) > MAX_ADDRESS_CHARS + MAX_DISPLAY_NAME_CHARS or _CONTROL.search(text):
        raise bad
    pairs = getaddresses([text])
    if len(pairs) != 1:
        raise bad
    name, address = parseaddr(text)
    if len(address) > MAX_ADDRESS_CHARS or len(name) > MAX_DISPLAY_NAME_CHARS or not _ADDRESS.fullmatch(address):
        raise bad
    return address


def _canonical_address(what: str, text: str) -> str:
    _check_address(what, text)
    return formataddr(parseaddr(text))


def _parse_recipients(text: str) -> tuple[str, ...]:
    """Comma-separated addresses (quoted display names may hold commas), each once."""
    if _CONTROL.search(text):
        raise InvalidChannel("to must be addresses on one line, separated by commas")
    found: dict[str, str] = {}
    for name, address in getaddresses([text]):
        if not name and not address:
            continue
        shown = formataddr((name, address))
        found.setdefault(_check_address("recipient", shown).lower(), shown)
        if len(found) > MAX_RECIPIENTS:
            raise InvalidChannel(f"an email channel has at most {MAX_RECIPIENTS} recipients")
    return tuple(found.values())


def _parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """ "Name: value" lines; checked (charset, duplicates, reserved names) by `validate`."""
    headers = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:  # the line is not echoed: it may be a token
            raise InvalidChannel(f"header line {number} has no ':'; write each header as Name: value")
        headers.append((name.strip(), value.strip()))
    return tuple(headers)
