"""The client's connection and the wire modules it loads on first use.

A command line starts fast only if it loads what it uses: the wire modules of each service are loaded on
first use (`_Lazy`), and each service's stub when first called, so `kiln runs` never loads the registry's.
The service modules beside this one (admin, projects, compute, records) import the wire modules from here.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Self, TypeVar

import grpc

from kiln.core import defaults
from kiln.core.errors import KilnError, Unavailable, error_for_code


class _Lazy:
    """A module loaded when one of its names is first used (through the import system, so threads that
    race for it load it once); the names found are kept on the proxy."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


if not TYPE_CHECKING:
    _WIRE = (
        "admin", "common", "deployments", "environments", "gateway", "link", "nodes", "projects", "registry", "runs",
        "monitoring", "schedules", "tracking",
    )  # fmt: skip
    globals().update({f"{n}_pb2": _Lazy(f"kiln.proto.v1.{n}_pb2") for n in _WIRE})
    globals().update({f"{n}_pb2_grpc": _Lazy(f"kiln.proto.v1.{n}_pb2_grpc") for n in _WIRE if n != "common"})
    globals().update({f"{n}_wire": _Lazy(f"kiln.serde.{n}") for n in _WIRE if n != "common"})

T = TypeVar("T")
S = TypeVar("S")

CHANNEL_OPTIONS = [
    ("grpc.ssl_target_name_override", defaults.TLS_SERVER_NAME),
    ("grpc.max_receive_message_length", defaults.MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", defaults.MAX_MESSAGE_BYTES),
]


class Connection:
    """A channel to one coordinator, trusting only the pinned CA, calling as the token's user."""

    page_size = 0  # rows asked per page of a listing (0: the coordinator's cap)

    def __init__(
        self,
        address: str,
        ca_pem: bytes,
        token: str | None = None,
        timeout: float = 60.0,
        node_identity: tuple[bytes, bytes] | None = None,
    ) -> None:
        """`node_identity` (key PEM, certificate PEM) makes this an agent's client, for the agent port."""
        self.address = address
        self.timeout = timeout
        key, cert = node_identity or (None, None)
        creds = grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key, certificate_chain=cert)
        if token:
            creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
        self.channel = grpc.secure_channel(address, creds, options=CHANNEL_OPTIONS)
        self._stubs: dict[Callable[[grpc.Channel], Any], Any] = {}
        self._stubs_lock = threading.Lock()
        self._closed = False

    def _stub(self, stub: Callable[[grpc.Channel], S]) -> S:
        """The channel's stub of one service, made on first use, by one thread at a time: grpc registers a
        stub's methods with the channel, and two threads registering the same ones at once (the desktop's
        workers sharing one client) crashed the process in grpc's C core. So did registering while another
        thread closed the channel (grpc/grpc#43455): closing takes the same lock, and a closed client makes
        no stub."""
        found: S | None = self._stubs.get(stub)
        if found is None:
            with self._stubs_lock:
                if self._closed:
                    raise Unavailable(f"the connection to {self.address} is closed")
                found = self._stubs.get(stub)
                if found is None:
                    found = self._stubs[stub] = stub(self.channel)
        return found

    def close(self) -> None:
        with self._stubs_lock:
            self._closed = True
            self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, timeout: float | None = None) -> T:
        try:
            return method(request, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise self.error(e) from None

    def _stream(self, method: Callable[..., Iterable[T]], request: Any) -> Iterator[T]:
        try:
            yield from method(request)
        except grpc.RpcError as e:
            raise self.error(e) from None

    def _pages(
        self, method: Callable[..., Any], request: Any, rows: Callable[[Any], list[T]], limit: int = 0, size: int = 0
    ) -> Iterator[list[T]]:
        """Each page of a listing in turn, following the coordinator's page tokens, until the last page or
        `limit` rows in all (0: every row); pages of `size` rows or fewer (0: `page_size`)."""
        got = 0
        while True:
            wanted = [n for n in (limit - got if limit else 0, size or self.page_size) if n > 0]
            request.page_size = min(wanted, default=0)
            reply = self._call(method, request)
            page = rows(reply)[: limit - got] if limit else rows(reply)
            got += len(page)
            yield page
            if not reply.next_page_token or reply.next_page_token == request.page_token or (limit and got >= limit):
                return
            request.page_token = reply.next_page_token

    def _listing(self, method: Callable[..., Any], request: Any, field: str, decode: Callable[[Any], T]) -> list[T]:
        """Every row of a listing whose replies hold them in `field`, page after page."""
        pages = self._pages(method, request, lambda reply: [decode(x) for x in getattr(reply, field)])
        return [row for page in pages for row in page]

    def error(self, e: grpc.RpcError) -> KilnError:
        """The domain error a failed call stands for, in words for a person."""
        code = e.code()
        details = e.details() or code.name
        if code is grpc.StatusCode.UNAVAILABLE:
            return Unavailable(
                f"cannot reach the coordinator at {self.address} ({details}); "
                "is it running, and is this the right address?"
            )
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"the coordinator at {self.address} did not answer in time")
        return error_for_code(code.name, details)
