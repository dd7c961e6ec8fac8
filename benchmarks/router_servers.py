"""The servers `benchmarks.router_overhead` runs besides the model server and the routers,
each in its own process:

    python -m benchmarks.router_servers upstream PORT         # V2 models that sleep mN ms
    python -m benchmarks.router_servers floor PORT TARGET     # the bare pass-through floor
"""

from __future__ import annotations

import asyncio
import sys


async def serve_upstream(port: int) -> None:
    """V2 'models' that sleep the number of ms in their name (m0, m5...) and echo their input."""
    import orjson

    from modelplane.edge.h1server import LeanServer, Request, Response

    json = [(b"content-type", b"application/json")]

    async def handle(request: Request) -> Response:
        name = request.path.split("/")[3]
        if request.method == "GET":
            return 200, json, b"{}"
        delay = int(name[1:]) / 1000
        if delay:
            await asyncio.sleep(delay)
        tensor = orjson.loads(request.body)["inputs"][0]
        return 200, json, orjson.dumps({"model_name": name, "outputs": [{**tensor, "name": "y"}]})

    server = LeanServer(handle)
    await server.start("127.0.0.1", port)
    await asyncio.Event().wait()  # until the benchmark terminates this process


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


def main(argv: list[str]) -> int:
    import uvloop

    if argv[0] == "upstream":
        uvloop.run(serve_upstream(int(argv[1])))
    else:
        uvloop.run(serve_proxy(int(argv[1]), argv[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
