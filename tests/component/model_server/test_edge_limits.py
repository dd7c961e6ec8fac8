"""The HTTP edge's connection limits, tried with raw sockets: slow heads, huge heads, too many."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.model_server import RunningServer, server_in_thread

HEAD_TIMEOUT = 0.5
KEEP_ALIVE = 2
MAX_CONNECTIONS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("repo")
    with server_in_thread(
        model_repository=root,
        max_header_size=4096,
        header_timeout=HEAD_TIMEOUT,
        keep_alive_timeout=KEEP_ALIVE,
        max_connections=MAX_CONNECTIONS,
    ) as running:
        yield running


def _connect(server: RunningServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket timeout)."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _status_and_error(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"connection: close" in head.lower()
    return status, json.loads(body)["error"]


def test_a_slow_client_holding_a_half_sent_head_is_cut_off(server: RunningServer) -> None:
    with _connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        for _ in range(3):  # keeps trickling, which must not reset the clock
            time.sleep(HEAD_TIMEOUT / 4)
            sock.sendall(b"X-Slow: 1\r\n")
        answer = _read_all(sock)
        waited = time.monotonic() - started
    status, error = _status_and_error(answer)
    assert status == 408
    assert "request head not received within 0.5 s" in error
    assert HEAD_TIMEOUT * 0.9 <= waited < HEAD_TIMEOUT + 5


def test_a_connection_that_sends_nothing_is_closed_silently_after_the_keep_alive(
    server: RunningServer,
) -> None:
    """No request, no answer: a proxy's spare connection is never sent a 408 it did not ask
    for, and it is closed only after the keep-alive timeout (longer than a proxy's)."""
    with _connect(server) as sock:
        started = time.monotonic()
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert answer == b""
    assert KEEP_ALIVE * 0.9 <= waited < KEEP_ALIVE + 5  # well past the header timeout


def test_a_spare_connection_serves_its_first_request_after_the_header_timeout(
    server: RunningServer,
) -> None:
    with _connect(server) as sock:
        time.sleep(HEAD_TIMEOUT * 2)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_may_idle_between_requests(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/v2/health/live").status_code == 200
        time.sleep(HEAD_TIMEOUT * 2)  # idle, not half-way through a head
        assert client.get("/v2/health/live").status_code == 200


def test_headers_over_the_limit_get_431(server: RunningServer) -> None:
    with _connect(server) as sock:
        big = b"X-Big: " + b"a" * 8000 + b"\r\n"
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        status, error = _status_and_error(_read_all(sock))
    assert status == 431
    assert "exceeds the limit of 4096 bytes" in error
    many = {f"x-h{i}": "v" * 40 for i in range(200)}  # many small headers add up
    answer = httpx.get(f"{server.url}/v2/health/live", headers=many)
    assert answer.status_code == 431


def test_headers_under_the_limit_are_served(server: RunningServer) -> None:
    answer = httpx.get(f"{server.url}/v2/health/live", headers={"x-pad": "a" * 3000})
    assert answer.status_code == 200


def test_the_connection_beyond_the_cap_gets_503(server: RunningServer) -> None:
    held = [httpx.Client(base_url=server.url) for _ in range(MAX_CONNECTIONS)]
    try:
        for client in held:  # each keeps its connection open after this request
            assert client.get("/v2/health/live").status_code == 200
        answer = httpx.get(f"{server.url}/v2/health/live")
        assert answer.status_code == 503
        assert "at most 3" in answer.json()["error"]
        assert answer.headers["connection"] == "close"
        held.pop().close()
        deadline = time.monotonic() + 5
        while httpx.get(f"{server.url}/v2/health/live").status_code != 200:
            assert time.monotonic() < deadline, "a freed connection slot was not reused"
            time.sleep(0.05)
    finally:
        for client in held:
            client.close()
