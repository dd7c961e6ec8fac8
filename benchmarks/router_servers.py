"""The servers `benchmarks.router_overhead` runs besides the model server and the routers,
each in its own process:

    python -m benchmarks.router_servers upstream PORT         # V2 models that sleep mN ms
    python -m benchmarks.router_servers floor PORT TARGET     # the bare pass-through floor
    python -m benchmarks.router_servers blocking PORT TARGET  # the same on blocking threads
    python -m benchmarks.router_servers ensemble PORT TARGET...  # a bare Ensemble, blocking
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any

import httptools


def serve_upstream(port: int) -> None:
    """V2 'models' that sleep the number of ms in their name (m0, m5...) and echo their input.

    Blocking sockets, a thread per connection: each sleep lasts its own time to within
    microseconds (an event loop's timers here keep whole milliseconds, which would hide when,
    within its millisecond, a member's request arrived)."""
    import socket
    import time

    import orjson

    json_type = b"Content-Type: application/json\r\n"

    def serve(client: Any) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with client:
            while True:
                request = _Message()
                if not _read(client, httptools.HttpRequestParser, request):
                    return
                name = request.url.split(b"/")[3].decode()
                answer = b"{}"
                if request.body:
                    delay = int(name[1:]) / 1000
                    if delay:
                        time.sleep(delay)
                    tensor = orjson.loads(b"".join(request.body))["inputs"][0]
                    answer = orjson.dumps(
                        {"model_name": name, "outputs": [{**tensor, "name": "y"}]}
                    )
                length = f"Content-Length: {len(answer)}\r\n\r\n".encode()
                client.sendall(b"".join((b"HTTP/1.1 200 OK\r\n", json_type, length, answer)))

    _accept(port, serve)


async def serve_proxy(port: int, target: str) -> None:
    """The floor: a bare pass-through on the router's own stack (its HTTP edge and its
    upstream client), with no graph, metrics or headers: what any hop on it costs."""
    from modelplane.edge.h1server import LeanServer, Request, Response
    from modelplane.router.h1 import H1Transport

    client = H1Transport()
    headers = {"content-type": "application/json"}
    json = [(b"content-type", b"application/json")]

    async def handle(request: Request) -> Response:
        if not request.body:
            return 200, json, b"{}"
        reply = await client.post(target, request.body, headers)
        return reply.status, json, reply.body

    server = LeanServer(handle)
    await server.start("127.0.0.1", port)
    await asyncio.Event().wait()  # until the benchmark terminates this process


class _Message:
    """One HTTP/1.1 message read off a blocking socket with httptools (the router's parser)."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False
        self.status = 200
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


def _read(sock: Any, parser_type: Any, message: _Message) -> bool:
    """Feed `sock` to a new parser until one message is complete; False when it closed."""
    parser = parser_type(message)
    while not message.done:
        data = sock.recv(65536)
        if not data:
            return False
        parser.feed_data(data)
    if parser_type is not httptools.HttpResponseParser:
        return True
    message.status = parser.get_status_code()
    return True


def serve_blocking(port: int, target: str) -> None:
    """The floor on blocking sockets: a thread per client connection, each with its own
    kept-alive upstream connection; no event loop (one message in flight per connection)."""

    def passed_on(replies: list[_Message]) -> tuple[int, bytes]:
        return replies[0].status, b"".join(replies[0].body)

    _relay(port, [target], passed_on)


def serve_ensemble(port: int, targets: list[str]) -> None:
    """The Ensemble's floor on blocking sockets, no graph: a thread per client connection with
    a kept-alive connection to each target; a request goes to every target in the order given
    (the slowest first), the answers are read in that order (the others have arrived while the
    first was awaited), and their outputs are merged into one V2 response with orjson."""
    import orjson

    def merged(replies: list[_Message]) -> tuple[int, bytes]:
        outputs = [o for r in replies for o in orjson.loads(b"".join(r.body))["outputs"]]
        return 200, orjson.dumps({"model_name": "ensemble", "outputs": outputs})

    _relay(port, targets, merged)


def _relay(
    port: int, targets: list[str], answer: Callable[[list[_Message]], tuple[int, bytes]]
) -> None:
    """Serve 127.0.0.1:port on blocking sockets, a thread per client connection with a
    kept-alive connection to each target: each request's body goes to every target in the
    order given, their whole answers are read in that order, and `answer` makes the client's
    (status, JSON body) of them. A request with no body (a readiness probe) gets 200 {}."""
    import socket
    from urllib.parse import urlsplit

    urls = [urlsplit(t) for t in targets]
    heads = [f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n".encode() for u in urls]
    json_type = b"Content-Type: application/json\r\n"

    def serve(client: Any) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        models = [socket.create_connection((u.hostname or "127.0.0.1", u.port or 80)) for u in urls]
        with contextlib.ExitStack() as held:
            for sock in (client, *models):
                held.enter_context(sock)
            for model in models:
                model.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                request = _Message()
                if not _read(client, httptools.HttpRequestParser, request):
                    return
                body = b"".join(request.body)
                if not body:  # a readiness probe
                    client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    continue
                length = f"Content-Length: {len(body)}\r\n\r\n".encode()
                for model, head in zip(models, heads, strict=True):
                    model.sendall(b"".join((head, json_type, length, body)))
                replies = []
                for model in models:
                    reply = _Message()
                    if not _read(model, httptools.HttpResponseParser, reply):
                        return
                    replies.append(reply)
                status, content = answer(replies)
                line = f"HTTP/1.1 {status} OK\r\n".encode()
                length = f"Content-Length: {len(content)}\r\n\r\n".encode()
                client.sendall(b"".join((line, json_type, length, content)))

    _accept(port, serve)


def _accept(port: int, serve: Any) -> None:
    """Accept connections on 127.0.0.1:port, each served by `serve` on a thread of its own."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", port))
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


def main(argv: list[str]) -> int:
    import uvloop

    if argv[0] == "upstream":
        serve_upstream(int(argv[1]))
    elif argv[0] == "blocking":
        serve_blocking(int(argv[1]), argv[2])
    elif argv[0] == "ensemble":
        serve_ensemble(int(argv[1]), argv[2:])
    else:
        uvloop.run(serve_proxy(int(argv[1]), argv[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
