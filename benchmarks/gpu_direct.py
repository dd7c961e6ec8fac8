"""The ceiling: a model's own batched forward rate, measured with no server in between.

Through the model server's own backends (`OnnxBackend`, `TorchBackend`) on a host numpy batch,
so the figure holds exactly what a served batch pays for the model (host-to-device copy, the
forward pass, the copy back) and nothing of HTTP, decoding or queueing. For torch the rate of
the module on a batch already on the device is measured too: the GPU's compute alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.gpu_model import INPUT, OUTPUT, Shape
from modelplane.model_server.backends.base import Backend
from modelplane.model_server.config import read_config


@dataclass(frozen=True)
class Rate:
    """Images per second at one batch size."""

    batch: int
    images_per_s: float
    iterations: int
    seconds: float


def load_backend(directory: Path) -> Backend:
    """The backend the server would load for this model directory."""
    config = read_config(directory)
    backend: Backend
    if any(directory.glob("*.onnx")):
        from modelplane.model_server.backends.onnx import OnnxBackend

        backend = OnnxBackend(directory, config)
    else:
        from modelplane.model_server.backends.pytorch import TorchBackend

        backend = TorchBackend(directory, config)
    backend.load()
    return backend


def batch_of(shape: Shape, batch: int, seed: int = 0) -> np.ndarray[Any, Any]:
    """A batch of seeded random images."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, *shape.input_shape[1:])).astype(np.float32)


def measure(
    call: Any, batch: int, seconds: float, warmup: int = 3, max_iterations: int = 10_000
) -> Rate:
    """Call `call()` (one batch) warmup times, then for about `seconds`; images per second."""
    for _ in range(warmup):
        call()
    iterations = 0
    start = time.perf_counter()
    while iterations < max_iterations:
        call()
        iterations += 1
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    return Rate(batch, batch * iterations / elapsed, iterations, elapsed)


def backend_rates(backend: Backend, shape: Shape, batches: list[int], seconds: float) -> list[Rate]:
    """`backend.infer` on host batches of each size."""
    rates = []
    for batch in batches:
        images = batch_of(shape, batch)
        rates.append(measure(lambda images=images: backend.infer({INPUT: images}), batch, seconds))
    return rates


def resident_rates(backend: Any, shape: Shape, batches: list[int], seconds: float) -> list[Rate]:
    """A loaded TorchBackend's module on batches already on its device (synchronised per call)."""
    import torch

    module, device = backend._module, backend.device
    rates = []
    for batch in batches:
        images = torch.from_numpy(batch_of(shape, batch)).to(device)

        def forward(images: Any = images) -> None:
            with torch.inference_mode():
                module(images)
            if device != "cpu":
                torch.cuda.synchronize()

        rates.append(measure(forward, batch, seconds))
    return rates


def reference(backend: Backend, images: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The backend's own answer for `images`, to compare served answers with."""
    return backend.infer({INPUT: images})[OUTPUT]
