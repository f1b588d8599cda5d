"""Channels as people add them: each kind of bad input is refused with a message saying what to fix, plain
SMTP only to a loopback host, routing by severity, and storage that round-trips but never shows secrets."""

from __future__ import annotations

import json

import pytest

from kiln.coordinator.alerts.channels import (
    Channel,
    InvalidChannel,
    from_json,
    parse_channel,
    routes,
    shown_url,
    to_json,
)
from kiln.core.errors import InvalidArgument

EMAIL = {"smtp_host": "smtp.example.com", "sender": "Kiln <kiln@example.com>", "to": "ops@example.com"}


def refused(kind: str, options: dict[str, str], match: str, name: str = "ops") -> None:
    with pytest.raises(ValueError, match=match):
        parse_channel(name, kind, options)


def test_a_webhook_channel_with_headers() -> None:
    c = parse_channel(
        "ops-hook", "webhook", {"url": " https://hooks.example.com/kiln ", "header": "Authorization: Bearer s3cret\r\n"}
    )
    assert (c.kind, c.url, c.min_severity) == ("webhook", "https://hooks.example.com/kiln", "warning")
    assert c.headers == (("Authorization", "Bearer s3cret"),)
    assert "s3cret" not in repr(c)


def test_an_email_channel_gets_its_port_from_the_tls_mode_and_tidy_recipients() -> None:
    c = parse_channel(
        "mail", "email", {**EMAIL, "to": 'ops@example.com, "Doe, Jane" <jane@example.com>,,ops@EXAMPLE.com'}
    )
    assert (c.smtp_port, c.smtp_tls) == (587, "starttls")
    assert c.recipients == ("ops@example.com", '"Doe, Jane" <jane@example.com>')
    assert parse_channel("mail", "email", {**EMAIL, "smtp_tls": "tls"}).smtp_port == 465
    assert parse_channel("mail", "email", {**EMAIL, "smtp_host": "127.0.0.1", "smtp_tls": "none"}).smtp_port == 25
    assert parse_channel("mail", "email", {**EMAIL, "smtp_port": "2525"}).smtp_port == 2525


def test_refusals_are_value_errors_and_invalid_arguments() -> None:
    with pytest.raises(InvalidChannel) as e:
        parse_channel("Ops!", "webhook", {"url": "https://x.example.com"})
    assert isinstance(e.value, ValueError) and isinstance(e.value, InvalidArgument)
    assert "lower-case letters, digits" in str(e.value)


@pytest.mark.parametrize(
    ("name", "kind", "options", "match"),
    [
        ("x" * 65, "webhook", {"url": "https://a.example"}, "1-64 lower-case"),
        ("ops", "pager", {}, "kind 'pager' is not one of webhook, slack, email"),
        ("ops", "webhook", {"url": "https://a.example", "colour": "red"}, "unknown channel option.*'colour'.*takes"),
        ("ops", "webhook", {"url": "https://a.example", "smtp_host": "h"}, "smtp_host do not apply to a webhook"),
        ("ops", "webhook", {"url": "https://a.example", "min_severity": "urgent"}, "min_severity 'urgent' is not one"),
        ("ops", "webhook", {}, "needs url="),
        ("ops", "webhook", {"url": "ftp://a.example/x"}, "must start with https://"),
        ("ops", "webhook", {"url": "https:///path"}, "names no host"),
        ("ops", "webhook", {"url": "https://a.example:99999/"}, "port that is not a number"),
        ("ops", "webhook", {"url": "https://a.example/a b"}, "printable ASCII without spaces"),
        ("ops", "webhook", {"url": "https://bücher.example/"}, "xn-- form"),
        ("ops", "webhook", {"url": "https://a.example/" + "x" * 2048}, "at most 2048"),
        ("ops", "slack", {"url": "http://hooks.slack.com/services/T/B/X"}, "slack url must be https"),
        ("ops", "webhook", {"url": "https://a.example", "header": "Authorization Bearer x"}, "header line 1 has no"),
        ("ops", "webhook", {"url": "https://a.example", "header": "Bad Name: x"}, "header name 'Bad Name'"),
        ("ops", "webhook", {"url": "https://a.example", "header": "Host: evil"}, "set by Kiln itself"),
        ("ops", "webhook", {"url": "https://a.example", "header": "X-A: 1\nx-a: 2"}, "given twice"),
        ("ops", "webhook", {"url": "https://a.example", "header": "X-A: \x07"}, "one line"),
        ("ops", "webhook", {"url": "https://a.example", "header": "X-A: café"}, "printable ASCII"),
        ("ops", "email", {**EMAIL, "smtp_host": ""}, "needs smtp_host"),
        ("ops", "email", {**EMAIL, "smtp_host": "smtp example"}, "not a host name"),
        ("ops", "email", {**EMAIL, "smtp_port": "0"}, "from 1 to 65535"),
        ("ops", "email", {**EMAIL, "smtp_port": "smtp"}, "from 1 to 65535"),
        ("ops", "email", {**EMAIL, "smtp_tls": "ssl"}, "must be starttls"),
        ("ops", "email", {**EMAIL, "smtp_tls": "none"}, "clear text.*loopback"),
        ("ops", "email", {**EMAIL, "smtp_user": "kiln"}, "both smtp_user and smtp_password"),
        ("ops", "email", {**EMAIL, "sender": ""}, "needs sender="),
        ("ops", "email", {**EMAIL, "sender": "kiln at example"}, "sender 'kiln at example' is not an email"),
        ("ops", "email", {**EMAIL, "sender": "a@example.com, b@example.com"}, "is not an email address"),
        ("ops", "email", {**EMAIL, "to": ""}, "needs to="),
        ("ops", "email", {**EMAIL, "to": "ops@example.com, nobody"}, "recipient 'nobody' is not"),
        ("ops", "email", {**EMAIL, "to": "a@example.com\nBcc: b@example.com"}, "on one line"),
        ("ops", "email", {**EMAIL, "to": ",".join(f"u{i}@example.com" for i in range(51))}, "at most 50"),
        ("ops", "email", {**EMAIL, "url": "https://a.example"}, "url do not apply to an email"),
    ],
)
def test_bad_input_is_refused_with_what_to_fix(name: str, kind: str, options: dict[str, str], match: str) -> None:
    refused(kind, options, match, name)


def test_plain_smtp_only_to_a_loopback_host() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]"):
        assert parse_channel("relay", "email", {**EMAIL, "smtp_host": host, "smtp_tls": "none"}).smtp_tls == "none"
    for host in ("10.0.0.5", "smtp.example.com", "localhost.example.com"):
        refused("email", {**EMAIL, "smtp_host": host, "smtp_tls": "none"}, "clear text")


def test_slack_may_use_plain_http_to_a_local_relay() -> None:
    assert parse_channel("s", "slack", {"url": "http://127.0.0.1:8080/hook"}).url == "http://127.0.0.1:8080/hook"


def test_routes_by_severity() -> None:
    hook = "https://a.example"
    chans = [parse_channel(n, "webhook", {"url": hook, "min_severity": n}) for n in ("info", "warning", "critical")]
    assert [c.name for c in routes(chans, "info")] == ["info"]
    assert [c.name for c in routes(chans, "warning")] == ["info", "warning"]
    assert [c.name for c in routes(chans, "critical")] == ["info", "warning", "critical"]
    with pytest.raises(ValueError, match="severity 'fatal'"):
        routes(chans, "fatal")


def test_storage_round_trips_and_the_shown_copy_hides_secrets() -> None:
    mail = parse_channel("mail", "email", {**EMAIL, "smtp_user": "kiln", "smtp_password": "pa55word"})
    assert from_json(to_json(mail, hide_secrets=False)) == mail
    shown = json.loads(to_json(mail))
    assert shown["smtp_password"] == "***" and shown["redacted"] is True and "pa55word" not in to_json(mail)
    assert "pa55word" not in repr(mail)
    with pytest.raises(ValueError, match="secrets hidden"):
        from_json(to_json(mail))

    slack = parse_channel("s", "slack", {"url": "https://hooks.slack.com/services/T0/B0/XyZ", "header": "X-K: tok"})
    assert from_json(to_json(slack, hide_secrets=False)) == slack
    shown = json.loads(to_json(slack))
    assert shown["url"] == "https://hooks.slack.com/services/***" and shown["headers"] == [["X-K", "***"]]

    hook = parse_channel("h", "webhook", {"url": "https://user:pw@a.example:8443/in?token=abc"})
    assert shown_url(hook) == "https://user:***@a.example:8443/***?***"


def test_a_stored_channel_is_checked_again() -> None:
    good = json.loads(to_json(parse_channel("mail", "email", EMAIL), hide_secrets=False))
    changes: list[tuple[dict[str, object], str]] = [
        ({"smtp_tls": "none"}, "clear text"),
        ({"smtp_port": "25"}, "smtp_port must be a JSON int"),
        ({"extra": 1}, "unknown field"),
        ({"recipients": [1]}, "recipients must be strings"),
    ]
    for change, match in changes:
        with pytest.raises(ValueError, match=match):
            from_json(json.dumps({**good, **change}))
    with pytest.raises(ValueError, match="not JSON"):
        from_json("{")
    assert isinstance(from_json(json.dumps(good)), Channel)
