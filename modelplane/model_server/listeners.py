"""Where a server process listens: the HTTP socket (shared by --workers) and the --metrics-port."""

from __future__ import annotations

import socket
from typing import Any

from prometheus_client import CollectorRegistry

from modelplane.model_server.settings import ServerSettings


def bind_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to host:port (any address family getaddrinfo gives for host).

    Bound before any server starts, so a taken port is a clean OSError at startup. With
    `reuse_port` (SO_REUSEPORT) every worker process can bind the same port.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def start_metrics_port(settings: ServerSettings, registry: CollectorRegistry) -> Any:
    """Serve `registry` on --metrics-port in a thread when it differs from the HTTP port.

    Returns the server (call `shutdown()` on it), or None when /metrics stays on the HTTP port.
    """
    port = settings.metrics_port
    if port is None or port == settings.http_port:
        return None
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, addr=settings.host, registry=registry)
    return server
