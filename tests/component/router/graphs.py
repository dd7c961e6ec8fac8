"""What the router's component tests over real model servers share: the input, the graphs
(over REST or gRPC steps), a router serving one, and the models called by hand."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer

X = np.asarray([[0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 0.0, 3.0]], dtype=np.float32)


def grpc_url(server: RunningServer, model: str) -> str:
    return f"grpc://{server.grpc_target}/v2/models/{model}"


def rest_url(server: RunningServer, model: str) -> str:
    return f"{server.url}/v2/models/{model}/infer"


def by_hand(
    server: RunningServer, model: str, x: np.ndarray, names: tuple[str, str] = ("x", "y")
) -> np.ndarray:
    """The model called directly over gRPC with tritonclient (its input and output names)."""
    import tritonclient.grpc as tg

    client = tg.InferenceServerClient(server.grpc_target)
    try:
        tensor = tg.InferInput(names[0], list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        result = client.infer(model, [tensor])
        out = result.as_numpy(names[1])
        assert out is not None
        return out
    finally:
        client.close()


def chain_by_hand(server: RunningServer, x: np.ndarray, *names: str) -> np.ndarray:
    for name in names:
        x = by_hand(server, name, x)
    return x


@contextmanager
def graph_client(
    nodes: dict[str, Any], name: str = "g", seed: int | None = None
) -> Iterator[tuple[Any, str]]:
    """A router serving the graph; (tritonclient.grpc client on it, its HTTP base URL)."""
    import tritonclient.grpc as tg

    rng = random.Random(seed) if seed is not None else None
    app = RouterApp(load({"name": name, "nodes": nodes}), RouterSettings(), rng=rng)
    with serve_router(app) as (base, target):
        client = tg.InferenceServerClient(target)
        try:
            yield client, base
        finally:
            client.close()


def infer(client: Any, graph: str, x: np.ndarray, name: str = "x") -> Any:
    import tritonclient.grpc as tg

    tensor = tg.InferInput(name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return client.infer(graph, [tensor])


def steps_of(result: Any) -> str:
    return str(result.get_response().parameters["graph_steps"].string_param)


def chain(models: RunningServer, url: Any) -> dict[str, Any]:
    return {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "embed", "serviceUrl": url(models, "embed")},
                {"name": "mix", "serviceUrl": url(models, "mix"), "data": "$response",
                 "mapping": {"y": "x"}},
                {"name": "head", "serviceUrl": url(models, "head"), "data": "$response",
                 "mapping": {"y": "x"}},
            ],
        }
    }  # fmt: skip


def ensemble(models: RunningServer, url: Any) -> dict[str, Any]:
    """An Ensemble of embed (step a) and alt (step b)."""
    steps = [
        {"name": "a", "serviceUrl": url(models, "embed")},
        {"name": "b", "serviceUrl": url(models, "alt")},
    ]
    return {"root": {"routerType": "Ensemble", "steps": steps}}


def switch(models: RunningServer, url: Any) -> dict[str, Any]:
    """A Switch on the first input value: embed when positive, else alt."""
    return {
        "root": {
            "routerType": "Switch",
            "steps": [
                {"name": "pos", "serviceUrl": url(models, "embed"),
                 "condition": "inputs.0.data.0 > 0"},
                {"name": "neg", "serviceUrl": url(models, "alt")},
            ],
        }
    }  # fmt: skip


def scored(models: RunningServer, url: Any) -> dict[str, Any]:
    """embed, then score on its answer: the graph's output `score` is only the last model's."""
    return {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "embed", "serviceUrl": url(models, "embed")},
                {"name": "score", "serviceUrl": url(models, "score"), "data": "$response"},
            ],
        }
    }
