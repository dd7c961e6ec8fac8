"""A purpose-built V2 upstream for resilience tests: slow, flaky and broken models on demand."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson


class Upstream:
    """ASGI app answering ``POST /v2/models/<name>/infer``.

    ``add1``: adds 1 to the first input; ``slow``: same after ``delay`` seconds; ``flaky``:
    503 for the first ``fail_times`` calls, then like ``add1``; ``broken``: 500.
    """

    def __init__(self, *, delay: float = 1.0, fail_times: int = 2) -> None:
        self.delay = delay
        self.fail_times = fail_times
        self.calls: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        name = scope["path"].split("/")[3]
        self.calls[name] += 1
        status, answer = await self._answer(name, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(answer)})

    async def _answer(self, name: str, body: bytes) -> tuple[int, Any]:
        if name == "broken":
            return 500, {"error": "model exploded"}
        if name == "flaky" and self.calls[name] <= self.fail_times:
            return 503, {"error": "not ready yet"}
        if name == "slow":
            await asyncio.sleep(self.delay)
        tensor = orjson.loads(body)["inputs"][0]
        data = [x + 1 for x in tensor["data"]]
        out = {"name": "y", "datatype": tensor["datatype"], "shape": tensor["shape"], "data": data}
        return 200, {"model_name": name, "outputs": [out]}
