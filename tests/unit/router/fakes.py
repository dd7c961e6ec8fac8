"""The router's unit-test fakes: V2 models as httpx.MockTransport handlers, a RouterApp over
them, and the request bodies the tests send."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from modelplane.router.transport import HttpxTransport

Handler = Callable[[httpx.Request], httpx.Response]


def v2_model(name: str, fn: Callable[[float], float]) -> Handler:
    """A fake V2 model applying fn to every element of its first input."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        tensor = body["inputs"][0]
        data = [fn(x) for x in tensor["data"]]
        out = {"name": f"{name}_out", "datatype": "FP32", "shape": tensor["shape"], "data": data}
        return httpx.Response(200, json={"model_name": name, "outputs": [out]})

    return handle


class Upstreams:
    """Routes by host; records every request."""

    def __init__(self, **handlers: Handler) -> None:
        self.handlers = handlers
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.handlers[request.url.host](request)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.seen]


def url(host: str) -> str:
    return f"http://{host}/v2/models/{host}/infer"


def graph(nodes: dict[str, Any], timeout: float | None = None) -> Any:
    doc: dict[str, Any] = {"name": "g", "nodes": nodes}
    if timeout is not None:
        doc["timeout"] = timeout
    return load(doc)


def client_for(
    nodes: dict[str, Any],
    upstreams: Upstreams,
    failover: list[str] | None = None,
    **settings: Any,
) -> httpx.AsyncClient:
    upstream_client = httpx.AsyncClient(transport=httpx.MockTransport(upstreams))
    options = {"retry_backoff": 0.0, **settings}
    loaded = (
        graph(nodes)
        if failover is None
        else load({"name": "g", "nodes": nodes, "failover": failover})
    )
    app = RouterApp(
        loaded,
        RouterSettings(**options),
        transport=HttpxTransport(upstream_client),
        rng=random.Random(3),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router")


def v2_input(*values: float) -> dict[str, Any]:
    return {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [len(values)], "data": list(values)}]
    }


def failing(status: int, body: Any = None) -> Handler:
    return lambda request: httpx.Response(status, json=body or {"error": f"boom {status}"})


def described(
    name: str, inputs: list[str], outputs: list[str], max_batch_size: int | None = None
) -> Handler:
    """A fake V2 model's metadata (FP32 [-1, 4] tensors) and, when `max_batch_size` is given,
    its Triton configuration (else /config is 404, as on a server without it)."""

    def tensors(names: list[str]) -> list[dict[str, Any]]:
        return [{"name": n, "datatype": "FP32", "shape": [-1, 4]} for n in names]

    def config(names: list[str]) -> list[dict[str, Any]]:
        return [{"name": n, "data_type": "TYPE_FP32", "dims": [4]} for n in names]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/config"):
            if max_batch_size is None:
                return httpx.Response(404, json={"error": "no config"})
            doc = {"name": name, "max_batch_size": max_batch_size,
                   "input": config(inputs), "output": config(outputs)}  # fmt: skip
            return httpx.Response(200, json=doc)
        doc = {"name": name, "inputs": tensors(inputs), "outputs": tensors(outputs)}
        return httpx.Response(200, json=doc)

    return handle
