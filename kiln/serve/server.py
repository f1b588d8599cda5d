"""The replica: one model behind HTTP/1.1 (the protocol is in kiln/serve/__init__.py).

The standard library's ThreadingHTTPServer does the HTTP: one daemon thread per connection, keep-alive,
and its own answer (400) to a request line or headers it cannot parse, after which it goes on serving.
What is added here is what a replica behind a gateway needs: bounded bodies, JSON errors in MLflow's
shape, no per-request logging (it would cost more than scoring a small request), TCP_NODELAY so a small
answer leaves at once, one write per answer, and a graceful stop on SIGTERM that lets every request in
flight finish, so a rolling switch between versions loses nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kiln.track as kt
from kiln.serve import ADDRESS_TAG, DRAIN_TIMEOUT_S, IDLE_TIMEOUT_S, MAX_BODY_BYTES, SERVE_HOST_ENV
from kiln.serve.formats import ClientError, encode_error, encode_predictions, parse_request
from kiln.serve.models import LoadError, Model, ModelError, load_model

JSON_TYPE = "application/json"


class ReplicaServer(ThreadingHTTPServer):
    """Serves `model`, counting the requests in flight so a stop can wait for them."""

    daemon_threads = True  # an idle keep-alive connection must not keep the process alive
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], model: Model, name: str, version: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.model = model
        self.stopping = False
        self._in_flight = 0
        self._idle = threading.Condition()
        info = {"name": name, "version": version, "flavor": model.flavor, "schema": model.describe()}
        self.version_body = json.dumps(info).encode()
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer's own looks up the host's FQDN, which can stall on a node with slow DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, peer = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, peer

    def handle_error(self, request: Any, client_address: Any) -> None:
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, (ConnectionError, TimeoutError)):
            return  # the client went away: nothing to say
        sys.stderr.write(f"kiln.serve: error on a connection from {client_address}:\n")
        traceback.print_exc()

    def enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()

    @property
    def in_flight(self) -> int:
        with self._idle:
            return self._in_flight

    def drain(self, timeout: float) -> int:
        """Waits until no request is in flight, at most `timeout` seconds; returns how many still are."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            return self._in_flight


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiln.serve"
    sys_version = ""
    wbufsize = -1  # buffered: the headers and the body of an answer leave in one write
    timeout = IDLE_TIMEOUT_S
    server: ReplicaServer
    _counted = False

    # A request line too garbled to name its version still gets a status line, not a bare HTTP/0.9 body.
    default_request_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request: at thousands a second it would cost more than the scoring

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a garbled request line or headers, an unknown method), in
        the same JSON as ours; the connection closes, as it cannot be trusted to be in step."""
        try:
            name = HTTPStatus(code).name
        except ValueError:
            name = "BAD_REQUEST"
        self._error(code, name, message or self.responses.get(code, ("error",))[0], close=True)

    # A request is in flight from its request line until its answer is written.
    def parse_request(self) -> bool:
        self._counted = True
        self.server.enter()
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            if self._counted:
                self._counted = False
                self.server.leave()

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        return self._body_length() is not None and super().handle_expect_100()

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path in ("/ping", "/health"):
            self._send(200, b'{"status": "ok"}')
        elif path == "/version":
            self._send(200, self.server.version_body)
        else:
            self._error(404, "NOT_FOUND", f"no such endpoint: GET {path} (there are /ping and /version)")

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        if path != "/invocations":
            # the body is left unread, so the connection cannot carry another request
            self._error(404, "NOT_FOUND", f"no such endpoint: POST {path} (use POST /invocations)", close=True)
            return
        length = self._body_length()
        if length is None:
            return
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        status, answer = self._score(body)
        self._send(status, answer)

    def _score(self, body: bytes) -> tuple[int, bytes]:
        try:
            table = parse_request(body, self.headers.get("Content-Type"))
            predictions = self.server.model.predict(table)
        except ClientError as e:
            return e.status, encode_error(e.code, e.message)
        except ModelError as e:
            sys.stderr.write(f"kiln.serve: the model raised: {e}\n")
            return 500, encode_error("MODEL_ERROR", str(e))
        except Exception as e:  # a bug of ours must cost one request, not the replica
            traceback.print_exc()
            return 500, encode_error("INTERNAL_ERROR", f"{type(e).__name__}: {e}")
        try:
            return 200, encode_predictions(predictions)
        except (TypeError, ValueError) as e:
            return 500, encode_error("MODEL_ERROR", f"the model's predictions cannot be sent as JSON: {e}")

    def _body_length(self) -> int | None:
        """The request's Content-Length, or None after answering why it cannot be read."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._error(411, "LENGTH_REQUIRED", "chunked bodies are not supported: send Content-Length", close=True)
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._error(411, "LENGTH_REQUIRED", "the request needs a Content-Length header", close=True)
            return None
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self._error(400, "BAD_REQUEST", f"bad Content-Length {raw!r}", close=True)
            return None
        if length > MAX_BODY_BYTES:
            limit = f"{MAX_BODY_BYTES:,} bytes ({MAX_BODY_BYTES // (1024 * 1024)} MiB)"
            self._error(413, "REQUEST_TOO_LARGE", f"the body is {length:,} bytes; the limit is {limit}", close=True)
            return None
        return length

    def _error(self, status: int, code: str, message: str, close: bool = False) -> None:
        self._send(status, encode_error(code, message), close)

    def _send(self, status: int, body: bytes, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        if close or self.close_connection or self.server.stopping:  # close_connection: the client asked
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


# -- the command -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        model = load_model(args.model)
    except LoadError as e:
        sys.stderr.write(f"kiln.serve: cannot serve {args.model}: {e}\n")
        return 2
    except Exception as e:  # the model's own import or unpickling code: still a load failure
        sys.stderr.write(f"kiln.serve: cannot serve {args.model}: {type(e).__name__}: {e}\n")
        traceback.print_exc()
        return 2
    gc.freeze()  # the model's objects stay out of every later collection: shorter pauses while serving
    name = args.name or Path(args.model).stem
    try:
        server = ReplicaServer((args.host, args.port), model, name, args.version)
    except OSError as e:
        sys.stderr.write(f"kiln.serve: cannot listen on {args.host}:{args.port}: {e}\n")
        return 2
    address = _address(server)
    if args.port_file:
        _write_atomically(Path(args.port_file), address)
    sys.stdout.write(f"kiln.serve: serving {name} version {args.version} at http://{address}\n")
    sys.stdout.flush()
    threading.Thread(target=_report, args=(address,), name="kiln.serve-report", daemon=True).start()
    _stop_on_signals(server)
    server.serve_forever(poll_interval=0.1)
    server.server_close()  # no new connections from here on
    sys.stdout.write(f"kiln.serve: stopping: no longer accepting; {server.in_flight} request(s) in flight\n")
    sys.stdout.flush()
    left = server.drain(DRAIN_TIMEOUT_S)
    if left:
        sys.stderr.write(f"kiln.serve: {left} request(s) still in flight after {DRAIN_TIMEOUT_S:g} s; exiting\n")
    sys.stdout.write("kiln.serve: stopped\n")
    sys.stdout.flush()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kiln.serve", description="Serve a model over HTTP.")
    parser.add_argument("--model", required=True, help="a model file, or a folder holding one")
    parser.add_argument(
        "--host",
        default=os.environ.get(SERVE_HOST_ENV) or "127.0.0.1",
        help=f"the address to listen on (default ${SERVE_HOST_ENV}, which the agent sets, else 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--name", help="the model's name (default: the file or folder name)")
    parser.add_argument("--version", default="-", help="the model version being served")
    parser.add_argument("--port-file", help="write HOST:PORT here once listening (atomically)")
    return parser


def _address(server: ReplicaServer) -> str:
    host, port = str(server.server_address[0]), int(server.server_address[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _report(address: str) -> None:
    """Tells Kiln where this replica listens (the gateway reads the tag); outside a run kiln.track only
    warns. On a thread of its own, so a slow agent never delays serving."""
    try:
        kt.set_tag(ADDRESS_TAG, address)
        kt.flush(timeout=30)
    except Exception as e:
        sys.stderr.write(f"kiln.serve: could not report the address {address} to Kiln: {type(e).__name__}: {e}\n")


def _stop_on_signals(server: ReplicaServer) -> None:
    def stop(signum: int, frame: Any) -> None:
        server.stopping = True
        # shutdown() waits for serve_forever, which runs on this (the main) thread: call it from another
        threading.Thread(target=server.shutdown, name="kiln.serve-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
