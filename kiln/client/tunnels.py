"""The client's calls of tunnels.proto, and `Forwarder`: a local port whose every connection reaches a port
of a running run through the coordinator (kiln run port). A connection that drops (a network blip, a
laptop's sleep) ends alone; the local port stays, and the next connection opens a new tunnel."""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from kiln.client.base import Connection
from kiln.core.errors import FailedPrecondition, KilnError

if TYPE_CHECKING:
    from kiln.proto.v1 import link_pb2

log = logging.getLogger("kiln.client.tunnels")

READ_BYTES = 256 * 1024  # one frame at most (the coordinator refuses larger ones)


class TunnelCalls(Connection):
    def tunnel(self, run_id: str, port: int, outgoing: Iterator[bytes]) -> Iterator[bytes]:
        """The bytes port `port` of run `run_id` sends, while `outgoing` is sent to it; ends when either
        side does. Raises what went wrong (no such run, not yours, not running, nothing on that port)."""
        import grpc

        from kiln.proto.v1 import link_pb2, tunnels_pb2_grpc  # loaded when first used: the CLI starts fast

        stub = self._stub(tunnels_pb2_grpc.TunnelsStub)

        def frames() -> Iterator[link_pb2.TunnelFrame]:
            yield link_pb2.TunnelFrame(run_id=run_id, port=port)
            for data in outgoing:
                yield link_pb2.TunnelFrame(data=data)

        responses = stub.Open(frames())
        try:
            for frame in responses:
                if frame.error:
                    raise FailedPrecondition(f"port {port} of run {run_id}: {frame.error}")
                yield frame.data
        except grpc.RpcError as e:
            raise self.error(e) from None
        finally:
            responses.cancel()


class Forwarder:
    """Listens on `local` (127.0.0.1, port 0: a free one) and tunnels each connection to `port` of `run_id`."""

    def __init__(self, client: TunnelCalls, run_id: str, port: int, local: int = 0) -> None:
        self.client, self.run_id, self.port = client, run_id, port
        self.server = socket.create_server(("127.0.0.1", local))
        self.local_port = self.server.getsockname()[1]
        self.stopping = threading.Event()
        self.errors: list[str] = []  # why connections ended badly, newest last
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self.server.settimeout(0.2)
        try:
            while not self.stopping.is_set():
                try:
                    conn, _ = self.server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                threading.Thread(target=self._carry, args=(conn,), daemon=True).start()
        finally:
            self.server.close()

    def start(self) -> Forwarder:
        self._thread = threading.Thread(target=self.serve_forever, name=f"forward-{self.local_port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops accepting and frees the local port (connections under way end on their own)."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        else:
            self.server.close()

    def _carry(self, conn: socket.socket) -> None:
        try:
            carry(conn, lambda outgoing: self.client.tunnel(self.run_id, self.port, outgoing))
        except KilnError as e:
            self.errors.append(str(e))
            log.warning("%s", e)


def carry(
    sock: socket.socket, exchange: Callable[[Iterator[bytes]], Iterable[bytes]], read_bytes: int = READ_BYTES
) -> None:
    """Carries one TCP connection over a stream, both ends of a tunnel alike: what `sock` sends is what
    `exchange` is given to send (read into a bounded queue on a thread of its own), what `exchange` yields is
    written to `sock`. Ends, closing `sock`, when either side does; raises what `exchange` raises."""
    sent: queue.Queue[bytes | None] = queue.Queue(64)

    def outgoing() -> Iterator[bytes]:
        while (data := sent.get()) is not None:
            yield data

    def read() -> None:
        try:
            while data := sock.recv(read_bytes):
                sent.put(data)
        except OSError:
            pass
        finally:
            sent.put(None)

    threading.Thread(target=read, name="tunnel-read", daemon=True).start()
    try:
        for data in exchange(outgoing()):
            sock.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
