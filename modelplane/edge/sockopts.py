"""Socket timeouts as the kernel keeps them (``SO_RCVTIMEO``, ``SO_SNDTIMEO``) on blocking
sockets: a call that waits longer fails with ``EAGAIN``. Python's own ``settimeout`` makes
the socket non-blocking and polls before every ``recv`` and ``send``: two system calls for
one, on a path (a router hop) where each is counted. `modelplane.edge.h1threads` and the
router's blocking client (`modelplane.router.h1block`) use these."""

from __future__ import annotations

import socket
import struct


def timeval(seconds: float | None) -> bytes:
    """A ``struct timeval`` (Linux, native sizes) for ``seconds``: None or 0 waits for ever;
    anything above 0 waits at least a microsecond."""
    micros = max(1, round(seconds * 1e6)) if seconds else 0
    return struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)


def set_receive_timeout(sock: socket.socket, seconds: float | None) -> None:
    """The longest a ``recv`` on this blocking socket waits (None: for ever)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(seconds))


def set_send_timeout(sock: socket.socket, seconds: float | None) -> None:
    """The longest a ``send`` on this blocking socket waits for room (None: for ever)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(seconds))
