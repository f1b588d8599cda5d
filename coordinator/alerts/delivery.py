"""Telling one channel about one alert, once: the notification rendered for the channel's kind, sent, and a
failure said in words a person can act on, with whether a retry may cure it.

The alert loop calls `send` off the event loop for each pending row of its outbox. On a `DeliveryError` it
keeps the message as the row's last_error and, when `retryable`, tries again `backoff_s(attempts)` later
(or after `retry_after_s`, when the peer asked for longer), up to MAX_ATTEMPTS; a refusal that no retry
can cure (a wrong URL, bad credentials, an untrusted certificate) goes to the dead letters at once.
Delivery is at least once: after a timeout the peer may have taken the notification, so a retry can
deliver it twice, and receivers that care deduplicate on (alert_id, state, at).

The generic webhook gets a POST of Content-Type: application/json, schema version 1:

    {
      "version": 1,
      "alert_id": "al-3f2c9d",
      "project": "fraud",
      "title": "accuracy below 0.9 on scoring",
      "severity": "critical",        // info | warning | critical
      "state": "firing",             // firing | acknowledged | resolved
      "summary": "accuracy 0.84 over the last hour; threshold 0.9",
      "details": {"monitor": "accuracy", "value": 0.84, "threshold": 0.9},
      "at": "2025-03-01T12:00:00Z",  // when the alert entered this state, ISO 8601 UTC
      "url": "https://kiln.example.com/alerts/al-3f2c9d"   // a link for people; "" when there is none
    }

`details` holds JSON values only: a number that is not finite, or anything else JSON cannot carry, arrives
as its text. Slack (and Slack-compatible hooks: Mattermost, Rocket.Chat) get an incoming-webhook message;
email gets a plain-text message with the state in its subject.
"""

from __future__ import annotations

import functools
import json
import math
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import NoReturn
from urllib.parse import urlsplit

import httpx

from kiln.coordinator.alerts.channels import SEVERITIES, Channel, shown_url
from kiln.core.clock import iso

STATES = ("firing", "acknowledged", "resolved")
USER_AGENT = "Kiln-Alerts/1"
SCHEMA_VERSION = 1

# The retries: waits of 5 s, 10 s, 20 s … 320 s (capped at 10 min, which 8 attempts never reach), so the
# 8th and last attempt comes 635 s (about 10.6 min) after the first; a notification failing then is dead.
FIRST_BACKOFF_S = 5.0
MAX_BACKOFF_S = 600.0
MAX_ATTEMPTS = 8
MAX_RETRY_AFTER_S = 3600.0

SLACK_TEXT_CHARS = 3000  # Slack's limit on a message's text and on a section's
SLACK_HEADER_CHARS = 150  # on a header block's plain text
SUBJECT_TITLE_CHARS = 200
SNIPPET_CHARS = 200  # how much of a peer's answer an error quotes
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Notification:
    alert_id: str
    project: str
    title: str
    severity: str  # one of channels.SEVERITIES
    state: str  # one of STATES
    summary: str
    details: Mapping[str, object]
    at: float  # when the alert entered `state`, seconds since the epoch
    url: str = ""  # a link for people (the desktop or CLI page of the alert)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES or self.state not in STATES:
            raise ValueError(f"a notification's severity is one of {SEVERITIES} and its state one of {STATES}")


class DeliveryError(Exception):
    """A notification not delivered; the message says what went wrong and what to check, never a secret."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s  # the peer's Retry-After, when it gave one


def backoff_s(attempt: int) -> float:
    """The wait after failed attempt number `attempt` (from 1) before the next. Deterministic, without the
    jitter of `kiln.core.backoff`: that spreads many agents reconnecting at once, while here one loop
    computes each outbox row's next_at from its stored count of attempts."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    return min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0 ** min(attempt - 1, 32))


def render_webhook(n: Notification) -> bytes:
    body = {
        "version": SCHEMA_VERSION,
        "alert_id": n.alert_id,
        "project": n.project,
        "title": n.title,
        "severity": n.severity,
        "state": n.state,
        "summary": n.summary,
        "details": _plain(n.details),
        "at": iso(n.at),
        "url": n.url,
    }
    return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")


def render_slack(n: Notification) -> bytes:
    """An incoming-webhook message: `text` (what notifications and old clients show) and blocks, a header
    and a section with the summary, the details and the link, then a context line; within Slack's limits."""
    state = n.state.capitalize()
    mark = ":white_check_mark:" if n.state == "resolved" else _SLACK_MARKS[n.severity]
    lines = [_slack_escape(n.summary)] if n.summary else []
    for key, value in n.details.items():
        lines.append(f"*{_slack_escape(_one_line(str(key)))}*: {_slack_escape(_one_line(_text(value)))}")
    if n.url.startswith(("https://", "http://")):
        lines.append(f"<{_slack_escape(n.url).replace('|', '%7C')}|Open in Kiln>")
    section = _fit("\n".join(lines) or state, SLACK_TEXT_CHARS)
    context = _one_line(f"{n.severity} · project {n.project} · since {iso(n.at)} · alert {n.alert_id}")
    text = f"{mark} [{n.severity.upper()}] {state}: {_slack_escape(n.title)}"
    text += f" — {_slack_escape(_one_line(n.summary))}" if n.summary else ""
    header = _fit(f"{state}: {_one_line(n.title)}", SLACK_HEADER_CHARS)
    message = {
        "text": _fit(text, SLACK_TEXT_CHARS),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "text": {"type": "mrkdwn", "text": section}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _fit(_slack_escape(context), 3000)}]},
        ],
    }  # fmt: skip
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def render_email(n: Notification, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A plain-text message; its subject reads "[Kiln][CRITICAL] title — firing"."""
    message = EmailMessage()
    title = _one_line(n.title)
    title = title if len(title) <= SUBJECT_TITLE_CHARS else title[: SUBJECT_TITLE_CHARS - 1] + "…"
    message["Subject"] = f"[Kiln][{n.severity.upper()}] {title} — {n.state}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(n.at, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kiln.invalid"
    message["Message-ID"] = make_msgid("kiln-alert", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to the relay
    message["X-Kiln-Alert"] = _one_line(n.alert_id)
    message["X-Kiln-State"] = n.state
    lines = [
        n.title,
        "",
        f"State:    {n.state}",
        f"Severity: {n.severity}",
        f"Project:  {n.project}",
        f"Since:    {iso(n.at)}",
        f"Alert:    {n.alert_id}",
    ]
    if n.summary:
        lines += ["", n.summary]
    if n.details:
        lines += ["", "Details:"] + [f"  {_one_line(str(k))}: {_one_line(_text(v))}" for k, v in n.details.items()]
    if n.url:
        lines += ["", f"Open: {n.url}"]
    lines += ["", "-- ", f"Sent by Kiln for project {n.project}."]
    message.set_content("\n".join(lines) + "\n")
    return message


def send(channel: Channel, n: Notification, timeout_s: float = 10.0, ssl_context: ssl.SSLContext | None = None) -> str:
    """Delivers `n` to `channel` once; a short receipt ("HTTP 200", "SMTP accepted for 2 recipients"), or
    DeliveryError. TLS trusts `ssl_context` when given, else the system's trust store (not certifi's: an
    on-prem relay's certificate usually comes from the organisation's own CA, installed system-wide)."""
    context = ssl_context or _system_trust()
    if channel.kind == "email":
        return _send_email(channel, n, timeout_s, context)
    body = render_slack(n) if channel.kind == "slack" else render_webhook(n)
    return _post(channel, body, timeout_s, context)


@functools.cache
def _system_trust() -> ssl.SSLContext:
    return ssl.create_default_context()  # loaded once: reading the system's roots takes a while


# --- webhooks ---------------------------------------------------------------------------------------------


def _post(channel: Channel, body: bytes, timeout_s: float, context: ssl.SSLContext) -> str:
    what = f"{channel.kind} {shown_url(channel)}"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **dict(channel.headers)}
    try:
        # trust_env: HTTPS_PROXY and NO_PROXY apply, as a coordinator behind a proxy needs them to reach Slack
        with (
            httpx.Client(verify=context, timeout=timeout_s, follow_redirects=False, trust_env=True) as client,
            client.stream("POST", channel.url, content=body, headers=headers) as response,
        ):
            if 200 <= response.status_code < 300:
                return f"HTTP {response.status_code}"
            _status_error(what, response)
    except httpx.TimeoutException:
        raise DeliveryError(f"{what} did not answer within {timeout_s:g} s", retryable=True) from None
    except httpx.InvalidURL:  # not echoed: the url may hold a token
        raise DeliveryError(f"{what}: the url is not one HTTP can use; set it again", retryable=False) from None
    except httpx.TransportError as e:
        parts = urlsplit(channel.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        raise _connection_error(what, parts.hostname or "", port, e, "does that port speak HTTPS?") from None


def _status_error(what: str, response: httpx.Response) -> NoReturn:
    status = response.status_code
    said = _snippet(response)
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("location", ""))
        where = f" to {target.scheme}://{target.hostname}" if target.hostname else ""
        raise DeliveryError(
            f"{what} answered {status}, a redirect{where}; Kiln follows none: set the channel's url to the final "
            "address",
            retryable=False,
        )
    if status in (401, 403):
        hint = "check the credentials (the channel's headers, or the token in its url)"
        raise DeliveryError(f"{what} answered {status}{said}: {hint}", retryable=False)
    if status in (404, 410):
        raise DeliveryError(f"{what} answered {status}{said}: check the url (was the hook removed?)", retryable=False)
    if status in (408, 425, 429) or status >= 500:
        raise DeliveryError(f"{what} answered {status}{said}", retryable=True, retry_after_s=_retry_after(response))
    raise DeliveryError(f"{what} answered {status}{said}: it refused the notification", retryable=False)


def _snippet(response: httpx.Response) -> str:
    """A short quote of a small text or JSON answer (Slack says why: "invalid_token"), else ""."""
    kind = response.headers.get("content-type", "")
    if not kind.startswith(("text/plain", "application/json")):
        return ""
    raw = b""
    for chunk in response.iter_bytes():
        raw += chunk
        if len(raw) >= 4 * SNIPPET_CHARS:
            break
    text = _one_line(raw.decode("utf-8", "replace")).strip()
    return f' ("{text[:SNIPPET_CHARS]}")' if text else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return min(float(value), MAX_RETRY_AFTER_S) if value.isdigit() else None


def _connection_error(what: str, host: str, port: int, error: BaseException, tls_hint: str) -> DeliveryError:
    """The words for a connection that failed: TLS refusals are not retryable (a retry meets the same
    certificate), the rest are (a receiver restarting, a network blip, DNS down)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return DeliveryError(
                f"{what}: the TLS certificate of {host} is not trusted ({cause.verify_message}); if your own CA "
                "issued it, add that CA to the coordinator machine's trust store, or fix the certificate's names",
                retryable=False,
            )
        if isinstance(cause, ssl.SSLError) and not isinstance(cause, ssl.SSLEOFError):
            return DeliveryError(
                f"{what}: TLS with {host}:{port} failed ({cause.reason or cause}): {tls_hint}",
                retryable=False,
            )
        if isinstance(cause, socket.gaierror):
            return DeliveryError(f"{what}: cannot resolve {host}: check the host name and DNS", retryable=True)
        if isinstance(cause, ConnectionRefusedError):
            return DeliveryError(
                f"{what}: cannot connect to {host}:{port} (connection refused): is it running, and "
                "reachable from the coordinator?",
                retryable=True,
            )
        if isinstance(cause, TimeoutError):
            return DeliveryError(f"{what}: {host}:{port} did not answer in time", retryable=True)
        cause = cause.__cause__ or cause.__context__
    return DeliveryError(f"{what}: cannot connect to {host}:{port} ({_one_line(str(error))})", retryable=True)


# --- email ------------------------------------------------------------------------------------------------


def _send_email(channel: Channel, n: Notification, timeout_s: float, context: ssl.SSLContext) -> str:
    where = f"SMTP server {channel.smtp_host}:{channel.smtp_port}"
    message = render_email(n, channel.sender, channel.recipients)
    recipients = [parseaddr(r)[1] for r in channel.recipients]
    try:
        smtp = _smtp_session(channel, where, timeout_s, context)
        try:
            refused = smtp.send_message(message, parseaddr(channel.sender)[1], recipients)
        finally:
            _close(smtp)
    except DeliveryError:
        raise
    except smtplib.SMTPException as e:
        raise _smtp_error(channel, where, e) from None
    except OSError as e:
        hint = "check smtp_tls (tls: implicit TLS, usually port 465; starttls: usually 587) and smtp_port"
        raise _connection_error(where, channel.smtp_host, channel.smtp_port, e, hint) from None
    if refused:
        gone = ", ".join(f"{a} ({code})" for a, (code, _) in sorted(refused.items()))
        return f"SMTP accepted for {len(recipients) - len(refused)} of {len(recipients)} recipients (refused: {gone})"
    return f"SMTP accepted for {len(recipients)} recipient{'s' if len(recipients) != 1 else ''}"


def _smtp_session(channel: Channel, where: str, timeout_s: float, context: ssl.SSLContext) -> smtplib.SMTP:
    """A connection ready for the message: TLS as the channel says, logged in when it has a user."""
    if channel.smtp_tls == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(channel.smtp_host, channel.smtp_port, timeout=timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=timeout_s)
    try:
        if channel.smtp_tls == "starttls":
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    f"{where} does not offer STARTTLS: use smtp_tls=tls if it speaks implicit TLS (port 465)",
                    retryable=False,
                )
            smtp.starttls(context=context)
            smtp.ehlo()
        if channel.smtp_user:
            smtp.login(channel.smtp_user, channel.smtp_password)
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT, not minding an answer: once the message is accepted, a bad goodbye must not fail (and so
    repeat) the delivery."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _smtp_error(channel: Channel, where: str, e: smtplib.SMTPException) -> DeliveryError:
    if isinstance(e, smtplib.SMTPAuthenticationError):
        said = _smtp_said(channel, e.smtp_code, e.smtp_error)
        return DeliveryError(
            f"{where} refused the login of {channel.smtp_user!r}{said}: check smtp_user and smtp_password",
            retryable=e.smtp_code == 454,  # 454: a temporary authentication failure
        )
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"{where} offers no login (AUTH): check smtp_tls, or leave smtp_user out for a relay without login",
            retryable=False,
        )
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in e.recipients.values()]
        gone = "; ".join(f"{a}{_smtp_said(channel, c, m)}" for a, (c, m) in sorted(e.recipients.items()))
        return DeliveryError(f"{where} refused every recipient: {gone}", retryable=all(_temporary(c) for c in codes))
    if isinstance(e, smtplib.SMTPSenderRefused):
        said = _smtp_said(channel, e.smtp_code, e.smtp_error)
        return DeliveryError(
            f"{where} refused the sender {e.sender}{said}: check sender (relays often take only their domains)",
            retryable=_temporary(e.smtp_code),
        )
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{where} closed the connection unexpectedly", retryable=True)
    if isinstance(e, smtplib.SMTPResponseException):
        said = _smtp_said(channel, e.smtp_code, e.smtp_error)
        retry = _temporary(e.smtp_code) or not 500 <= e.smtp_code < 600
        return DeliveryError(f"{where} answered{said}", retryable=retry)
    return DeliveryError(f"{where}: {_scrub(channel, str(e))}", retryable=False)


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _smtp_said(channel: Channel, code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    said = _scrub(channel, _one_line(raw).strip())[:SNIPPET_CHARS]
    return f" ({code} {said})" if said else f" ({code})"


def _scrub(channel: Channel, text: str) -> str:
    """`text` without the channel's password, should a server echo it."""
    return text.replace(channel.smtp_password, "***") if channel.smtp_password else text


# --- text -------------------------------------------------------------------------------------------------

_SLACK_MARKS = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}


def _plain(value: object, depth: int = 0) -> object:
    """`value` as JSON can carry it: containers kept (to a depth of 8), everything else as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth < 8 and isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if depth < 8 and isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def _text(value: object) -> str:
    plain = _plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
