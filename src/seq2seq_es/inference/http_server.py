"""uvicorn as ``serve`` runs it: connection limits, read timeouts and a graceful shutdown.

Why not plain ``uvicorn.run``: uvicorn has a keep-alive timeout but no read timeout, so a
client that sends its request headers one byte every few seconds holds a connection (and
a file descriptor) forever; 300 such clients held 300. And on SIGTERM uvicorn waits for
open connections, then cancels their tasks without an answer. Here:

* **Header read timeout and connection cap** live in the HTTP protocol
  (``limited_protocol``, uvicorn's h11 protocol with a timer): a request whose headers have
  not all arrived ``read_timeout_s`` after its first byte gets a JSON 408 and its
  connection is closed; a connection beyond ``max_connections`` gets a JSON 503 and is
  closed at once. Both are counted in ``/metrics`` (path ``connection``). The body's read
  timeout is the app's (``server.RequestBodyLimits``), where a 408 can still be answered.
* **Graceful shutdown** (``GracefulServer``): on SIGTERM stop accepting, let the app drain
  (finish in-flight work within ``shutdown_grace_s``, then cancel the rest so that each
  open request is answered, 503 if cancelled), then let uvicorn close the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from seq2seq_es.inference.config import ServeLimits
from seq2seq_es.inference.listen import listening_socket

CountResponse = Callable[[str, int], None]
Drain = Callable[[], Awaitable[None]]
CONNECTION_PATH = "connection"  # the /metrics path label of answers the protocol gives itself


def raw_json_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response with a JSON error body that closes the connection."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _no_delay(transport: asyncio.Transport) -> None:
    """Send each write at once (TCP_NODELAY). asyncio sets it only on sockets it made itself
    for TCP (``proto == IPPROTO_TCP``); on the ones accepted from a socket bound by hand, as
    ``serve`` and ``serve_in_thread`` bind, every answer on a kept-alive connection waited 40 ms
    for the client's delayed ACK (44 ms for ``/health`` against 1.7 ms on a fresh connection)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # a Unix socket has no TCP options
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def limited_protocol(limits: ServeLimits, count: CountResponse) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with a header read timeout and a cap on open connections."""
    timed_out = raw_json_response(
        408,
        "Request Timeout",
        f"The request headers did not arrive within {limits.read_timeout_s:g} s "
        "(limits.read_timeout_s).",
    )
    refused = raw_json_response(
        503,
        "Service Unavailable",
        f"Too many open connections (limits.max_connections={limits.max_connections}); "
        "retry in a moment.",
    )

    class LimitedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            _no_delay(transport)
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                count(CONNECTION_PATH, 503)
                transport.write(refused)
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing() or not self._reading_headers():
                self._disarm()
            elif self._deadline is None:
                self._arm()  # the first byte of the next request on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _reading_headers(self) -> bool:
            """No request in progress: between requests, or inside one's headers."""
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(limits.read_timeout_s, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or not self._reading_headers():
                return
            if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                self.transport.close()  # an idle kept-alive connection: nothing was asked
                return
            count(CONNECTION_PATH, 408)
            self.transport.write(timed_out)
            self.transport.close()

    return LimitedH11Protocol


class GracefulServer(uvicorn.Server):
    """A uvicorn server that lets the app drain before uvicorn closes the connections."""

    def __init__(self, config: uvicorn.Config, drain: Drain | None = None) -> None:
        super().__init__(config)
        self._drain = drain

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets is not None and self.started:
            # uvicorn says where it listens only on sockets it bound itself; ``serve`` hands it
            # the one it bound before loading the models (``listen.py``).
            self._log_started_message(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting first: nothing new arrives while draining
        if self._drain is not None:
            await self._drain()
        await super().shutdown(sockets)
        # uvicorn re-raises the signal it stopped for once it is done; after a complete graceful
        # shutdown a SIGTERM is an ordinary exit (status 0), as for a process manager it is.
        self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]


def build_server(
    app: Any,
    limits: ServeLimits,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> GracefulServer:
    """The server ``serve`` runs ``app`` with (``app.state`` from ``server.create_app``)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=limited_protocol(limits, app.state.count_response),
        timeout_keep_alive=limits.keep_alive_timeout_s,
        # uvicorn's own wait after the drain: time to write the last answers.
        timeout_graceful_shutdown=5,
    )
    return GracefulServer(config, drain=app.state.drain)


@contextlib.contextmanager
def serve_in_thread(
    app: Any,
    limits: ServeLimits | None = None,
    host: str = "127.0.0.1",
    startup_timeout_s: float = 60.0,
) -> Iterator[str]:
    """Run ``app`` as ``serve`` does, in a background thread; yield its base URL, stop on exit.

    Binds a free port first (no race with other tests or servers). For tests, benchmarks
    and notebooks; ``seq2seq-es serve`` runs the server in the main thread.
    """
    sock = listening_socket(host, 0)
    server = build_server(app, limits or app.state.limits, host=host)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"uvicorn did not start within {startup_timeout_s:g} s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
