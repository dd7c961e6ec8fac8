"""The graph's signature as one V2 model, read from the models its steps call (`signature`).

Each service step's model is asked for its metadata and its configuration: over REST,
``GET <serviceUrl without /infer>`` and ``.../config``; over gRPC, ModelMetadata and
ModelConfig. A server without the configuration (404 over REST, UNIMPLEMENTED over gRPC)
is read from its metadata. The graph's signature is kept for `TTL` seconds (a new
revision of a model may change its tensors); a failure is not kept, and says which step's
model could not be read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from modelplane.router import jsonio
from modelplane.router.errors import ConnectionFailed, NotV2, Undescribed
from modelplane.router.graph import Graph, Step
from modelplane.router.grpc_transport import GrpcTransport
from modelplane.router.signature import Signature, graph_signature, model_signature, service_steps
from modelplane.router.transport import Transport

TTL = 30.0  # seconds a graph's signature is kept
LIMIT = 5.0  # seconds for one model's metadata and configuration


class Describer:
    """Reads and keeps one graph's signature."""

    def __init__(
        self,
        graph: Graph,
        transport: Transport,
        grpc: GrpcTransport,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graph = graph
        self.transport = transport
        self.grpc = grpc
        self.clock = clock
        self._kept: tuple[float, Signature] | None = None

    async def signature(self) -> Signature:
        """The graph's signature; Undescribed names the first step whose model failed."""
        if self._kept is not None and self.clock() - self._kept[0] < TTL:
            return self._kept[1]
        steps = service_steps(self.graph)
        models = await asyncio.gather(*(self._model(step) for step in steps))
        signature = graph_signature(
            self.graph, {step.label: model for step, model in zip(steps, models, strict=True)}
        )
        self._kept = (self.clock(), signature)
        return signature

    async def _model(self, step: Step) -> Signature:
        try:
            if step.grpc_target is not None:
                metadata, config = await self.grpc.describe(
                    step.grpc_target, step.model or "", LIMIT
                )
                return model_signature(metadata, config)
            base = (step.service_url or "").removesuffix("/infer")
            meta = await self.transport.get(base, LIMIT)
            if meta.status != 200:
                raise NotV2(f"its metadata answered {meta.status}: {_text(meta.body)}")
            conf = await self.transport.get(f"{base}/config", LIMIT)
            config = jsonio.loads(conf.body) if conf.status == 200 else None
            return model_signature(jsonio.loads(meta.body), config)
        except (ConnectionFailed, TimeoutError, NotV2, jsonio.JSONDecodeError) as exc:
            why = str(exc) or type(exc).__name__
            raise Undescribed(f"cannot read the model of step {step.label}: {why}") from exc


def _text(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace")
