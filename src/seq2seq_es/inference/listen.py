"""The server's listening socket, bound before anything is loaded.

Why first: uvicorn binds its port only when it starts, after ``serve`` has opened every
model, so a busy port was found out after a minute of loading and reported as a raw uvicorn
line with exit 3. Bound here, the port is refused at once (exit 2, naming host:port and what
to do), and uvicorn serves on the socket it is handed, so nothing can take the port between
the check and the start. Light on purpose (no uvicorn, no torch).
"""

from __future__ import annotations

import errno
import socket

from seq2seq_es.errors import ConfigError

ADVICE = {
    errno.EADDRINUSE: "another process is listening there (an earlier `seq2seq-es serve`?). Stop "
    "it, or choose another port: port=8001 (port=0 picks a free one).",
    errno.EACCES: "ports below 1024 need privileges: choose port=8000 or above.",
    errno.EADDRNOTAVAIL: "the host is not an address of this machine: use host=127.0.0.1 (this "
    "machine only) or host=0.0.0.0 (every interface).",
}


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port=0``: a free one), or a ``ConfigError``."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: host={host!r} is not a known address "
            f"({exc.strerror}). Use host=127.0.0.1 or host=0.0.0.0."
        ) from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is free
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        advice = ADVICE.get(exc.errno or 0, "choose another host or port.")
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; {advice}"
        ) from exc
    return sock
