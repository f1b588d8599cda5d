"""Delivery against real peers on loopback: a webhook receiver that fails its first tries (retried, then
delivered with the documented body and the channel's headers), HTTPS with a throwaway CA, Slack's message,
and SMTP through aiosmtpd (plain to a local relay, STARTTLS, implicit TLS, a login refused); peers that
refuse, redirect, stay silent or are not there give errors saying what to check and whether to retry."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiln.coordinator.alerts.channels import Channel, parse_channel
from kiln.coordinator.alerts.delivery import (
    MAX_ATTEMPTS,
    DeliveryError,
    Notification,
    backoff_s,
    render_email,
    render_slack,
    send,
)
from tests.smtp import Inbox, LoopbackController

NOTE = Notification(
    alert_id="al-1",
    project="fraud",
    title="accuracy below 0.9 on <scoring>",
    severity="critical",
    state="firing",
    summary="accuracy 0.84 over the last hour",
    details={"value": 0.84, "threshold": 0.9, "odd": float("nan")},
    at=1740830400.0,  # 2025-03-01T12:00:00Z
    url="https://kiln.example.com/alerts/al-1",
)
SENDER = "Kiln <kiln@example.com>"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook client honours proxy variables (as a coordinator behind a proxy needs); loopback peers
    must be reached directly whatever the test machine's environment says."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# --- a throwaway CA and a certificate for 127.0.0.1 ------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def trusting(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def server(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kiln alerts test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Pki(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")


# --- a webhook receiver -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP(S) server that answers the statuses in `answers` in turn, then 200, and keeps what
    it was sent."""

    answers: list[int]
    tls: ssl.SSLContext | None = None
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        lock, receiver = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                reply = b"ok" if status < 300 else b"invalid_token"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                if status == 429:
                    self.send_header("Retry-After", "30")
                if 300 <= status < 400:
                    self.send_header("Location", "https://elsewhere.example.com/secret-path")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(answers: Sequence[int] = (), tls: ssl.SSLContext | None = None) -> Receiver:
        made.append(Receiver(list(answers), tls))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting is refused, and no other test can take it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def hook(url: str, kind: str = "webhook", **options: str) -> Channel:
    return parse_channel("ops", kind, {"url": url, **options})


def failure(channel: Channel, n: Notification = NOTE, **kwargs: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as e:
        send(channel, n, **kwargs)
    return e.value


def test_a_failing_webhook_is_retried_until_it_takes_the_documented_body(receiver: Callable[..., Receiver]) -> None:
    r = receiver([503, 503])
    channel = hook(r.url, header="Authorization: Bearer t0ken\nX-Team: ml")
    for _ in range(2):
        e = failure(channel)
        assert e.retryable and f"webhook {r.url.removesuffix('hook')}*** answered 503" in e.message
    assert send(channel, NOTE) == "HTTP 200"
    assert len(r.requests) == 3
    last = r.requests[-1]
    assert last.path == "/hook" and last.headers["content-type"] == "application/json"
    assert last.headers["authorization"] == "Bearer t0ken" and last.headers["x-team"] == "ml"
    assert json.loads(last.body) == {
        "version": 1,
        "alert_id": "al-1",
        "project": "fraud",
        "title": "accuracy below 0.9 on <scoring>",
        "severity": "critical",
        "state": "firing",
        "summary": "accuracy 0.84 over the last hour",
        "details": {"value": 0.84, "threshold": 0.9, "odd": "nan"},
        "at": "2025-03-01T12:00:00Z",
        "url": "https://kiln.example.com/alerts/al-1",
    }


def test_backoff_doubles_from_five_seconds_and_the_span_is_documented() -> None:
    waits = [backoff_s(a) for a in range(1, MAX_ATTEMPTS)]
    assert waits == [5, 10, 20, 40, 80, 160, 320] and sum(waits) == 635
    assert backoff_s(10) == backoff_s(1000) == 600
    with pytest.raises(ValueError):
        backoff_s(0)


@pytest.mark.parametrize(
    ("status", "says"),
    [(404, "check the url"), (401, "check the credentials"), (400, "refused the notification")],
)
def test_a_refusal_is_not_retried(receiver: Callable[..., Receiver], status: int, says: str) -> None:
    e = failure(hook(receiver([status]).url))
    assert not e.retryable and f"answered {status}" in e.message and says in e.message
    assert '"invalid_token"' in e.message  # what the receiver said, quoted


def test_too_many_requests_is_retried_after_what_the_peer_asked(receiver: Callable[..., Receiver]) -> None:
    e = failure(hook(receiver([429]).url))
    assert e.retryable and e.retry_after_s == 30


def test_a_redirect_is_not_followed(receiver: Callable[..., Receiver]) -> None:
    r = receiver([302])
    e = failure(hook(r.url))
    assert not e.retryable and "redirect to https://elsewhere.example.com;" in e.message
    assert "secret-path" not in e.message and len(r.requests) == 1


def test_a_closed_port_is_a_retryable_cannot_connect(closed_port: int) -> None:
    e = failure(hook(f"http://127.0.0.1:{closed_port}/hook"))
    assert e.retryable and f"cannot connect to 127.0.0.1:{closed_port} (connection refused)" in e.message


def test_a_silent_peer_times_out_retryably() -> None:
    with socket.socket() as s:  # listens, so the connection is made, but never answers
        s.bind(("127.0.0.1", 0))
        s.listen()
        e = failure(hook(f"http://127.0.0.1:{s.getsockname()[1]}/hook"), timeout_s=0.3)
    assert e.retryable and "did not answer within 0.3 s" in e.message


def test_the_url_token_stays_out_of_errors(closed_port: int) -> None:
    e = failure(hook(f"http://127.0.0.1:{closed_port}/services/T0/B0/s3cret", kind="slack"))
    assert "s3cret" not in e.message and "/services/***" in e.message


def test_https_with_a_trusted_ca_and_an_untrusted_one(receiver: Callable[..., Receiver], pki: Pki) -> None:
    r = receiver(tls=pki.server())
    assert r.url.startswith("https://")
    assert send(hook(r.url), NOTE, ssl_context=pki.trusting()) == "HTTP 200"
    e = failure(hook(r.url))  # the system's trust store never signed the test CA's certificate
    assert not e.retryable and "not trusted" in e.message and "trust store" in e.message
    assert len(r.requests) == 1


def test_slack_gets_an_incoming_webhook_message(receiver: Callable[..., Receiver]) -> None:
    r = receiver()
    assert send(hook(r.url, kind="slack"), NOTE) == "HTTP 200"
    message = json.loads(r.requests[0].body)
    assert "[CRITICAL] Firing: accuracy below 0.9 on &lt;scoring&gt;" in message["text"]
    header, section, _ = message["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Firing: accuracy below 0.9 on <scoring>"},
    }
    assert "*value*: 0.84" in section["text"]["text"] and "|Open in Kiln>" in section["text"]["text"]

    resolved = json.loads(render_slack(Notification(**{**NOTE.__dict__, "state": "resolved", "summary": "x" * 9000})))
    assert resolved["text"].startswith(":white_check_mark: [CRITICAL] Resolved:")
    assert resolved["blocks"][0]["text"]["text"].startswith("Resolved: ")
    assert len(resolved["text"]) <= 3000 and len(resolved["blocks"][1]["text"]["text"]) <= 3000


# --- SMTP -------------------------------------------------------------------------------------------------


def accept_kiln(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"kiln", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[int, Inbox]]]:
    started: list[Controller] = []

    def start(**kwargs: Any) -> tuple[int, Inbox]:
        inbox = Inbox()
        controller = LoopbackController(inbox, hostname="127.0.0.1", port=0, server_hostname="localhost", **kwargs)
        controller.start()
        started.append(controller)
        return controller.port, inbox

    yield start
    for c in started:
        c.stop()


def mail(port: int, tls: str = "none", to: str = "ops@example.com, oncall@example.com", **options: str) -> Channel:
    settings = {"smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_tls": tls, "sender": SENDER, "to": to}
    return parse_channel("mail", "email", {**settings, **options})


def test_plain_smtp_to_a_local_relay(smtp_server: Callable[..., tuple[int, Inbox]]) -> None:
    port, inbox = smtp_server()
    assert send(mail(port), NOTE) == "SMTP accepted for 2 recipients"
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "kiln@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    message = inbox.message()
    assert message["Subject"] == "[Kiln][CRITICAL] accuracy below 0.9 on <scoring> — firing"
    assert message["To"] == "ops@example.com, oncall@example.com" and message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "accuracy 0.84 over the last hour" in body and "Open: https://kiln.example.com/alerts/al-1" in body


def test_starttls_with_a_login(smtp_server: Callable[..., tuple[int, Inbox]], pki: Pki) -> None:
    port, inbox = smtp_server(
        tls_context=pki.server(), require_starttls=True, authenticator=accept_kiln, auth_required=True
    )
    channel = mail(port, "starttls", smtp_user="kiln", smtp_password=PASSWORD)
    assert send(channel, NOTE, ssl_context=pki.trusting()) == "SMTP accepted for 2 recipients"
    assert len(inbox.envelopes) == 1

    wrong = mail(port, "starttls", smtp_user="kiln", smtp_password="wrong-password-42")
    e = failure(wrong, ssl_context=pki.trusting())
    assert not e.retryable and "refused the login of 'kiln'" in e.message and "check smtp_user" in e.message
    assert "wrong-password-42" not in e.message and "wrong-password-42" not in str(e)

    e = failure(channel)  # the system's trust store never signed the test CA's certificate
    assert not e.retryable and "not trusted" in e.message and len(inbox.envelopes) == 1


def test_implicit_tls(smtp_server: Callable[..., tuple[int, Inbox]], pki: Pki) -> None:
    port, inbox = smtp_server(ssl_context=pki.server())
    assert send(mail(port, "tls", to="ops@example.com"), NOTE, ssl_context=pki.trusting()) == (
        "SMTP accepted for 1 recipient"
    )
    assert inbox.message()["X-Kiln-Alert"] == "al-1"


def test_starttls_asked_of_a_server_without_it(smtp_server: Callable[..., tuple[int, Inbox]]) -> None:
    port, inbox = smtp_server()
    e = failure(mail(port, "starttls"))
    assert not e.retryable and "does not offer STARTTLS" in e.message and not inbox.envelopes


def test_recipients_refused_for_now_and_for_good(smtp_server: Callable[..., tuple[int, Inbox]]) -> None:
    port, inbox = smtp_server()
    e = failure(mail(port, to="full@example.com"))
    assert e.retryable and "full@example.com (452 4.2.2 mailbox full)" in e.message
    e = failure(mail(port, to="gone@example.com"))
    assert not e.retryable and "550" in e.message
    assert send(mail(port, to="ops@example.com, gone@example.com"), NOTE) == (
        "SMTP accepted for 1 of 2 recipients (refused: gone@example.com (550))"
    )
    assert inbox.envelopes[0].rcpt_tos == ["ops@example.com"]


def test_an_unreachable_smtp_server_is_retryable(closed_port: int) -> None:
    e = failure(mail(closed_port))
    assert e.retryable and f"SMTP server 127.0.0.1:{closed_port}" in e.message and "connection refused" in e.message


def test_the_email_subject_says_severity_title_and_state() -> None:
    long_title = Notification(**{**NOTE.__dict__, "title": "a\nb" + "c" * 500, "state": "resolved"})
    subject = render_email(long_title, SENDER, ["ops@example.com"])["Subject"]
    assert subject.startswith("[Kiln][CRITICAL] a bccc") and subject.endswith("… — resolved")
