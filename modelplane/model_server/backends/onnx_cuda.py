"""Runs of an onnxruntime session on the CUDA provider through IO bindings, and with CUDA graphs.

`bound_run`: inputs bound from host memory, outputs bound on the device and copied back in one
go (`io_binding: true`). `CudaGraphs`: one captured graph per input shape (onnxruntime's
`gpu_graph_id`), at most `MAX_CUDA_GRAPHS`; a graph replays from fixed device buffers, so the
first request of a shape runs without a graph (it tells the output shapes), the buffers are
then made, and later requests of that shape copy in, replay, copy out. Shapes beyond the limit
run without a graph. A graph's buffers are shared, so its runs are serialised by a lock.
`device` is "cuda" in the backend; tests run the same code with "cpu" buffers on the CPU.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray[Any, Any]]
ShapeKey = tuple[tuple[str, tuple[int, ...], str], ...]


def bound_run(
    session: Any, output_names: list[str], feeds: Arrays, device: str = "cuda"
) -> list[np.ndarray[Any, Any]]:
    """One run through an IOBinding: host inputs, device outputs copied to the host at the end."""
    binding = session.io_binding()
    for name, array in feeds.items():
        binding.bind_cpu_input(name, np.ascontiguousarray(array))
    for name in output_names:
        binding.bind_output(name, device)
    session.run_with_iobinding(binding)
    return list(binding.copy_outputs_to_cpu())


def shape_key(feeds: Arrays) -> ShapeKey:
    """What makes two requests share a graph: every input's name, shape and dtype."""
    return tuple((name, tuple(a.shape), a.dtype.str) for name, a in sorted(feeds.items()))


@dataclass
class _Graph:
    binding: Any
    inputs: dict[str, Any]  # OrtValues on the device, bound once
    run_options: Any


class CudaGraphs:
    """CUDA-graph runs of one session (created with `enable_cuda_graph`)."""

    def __init__(
        self, session: Any, output_names: list[str], limit: int, device: str = "cuda"
    ) -> None:
        self._session = session
        self._device = device
        self._output_names = output_names
        self._limit = limit
        self._graphs: dict[ShapeKey, _Graph] = {}
        self._lock = threading.Lock()

    @property
    def captured(self) -> int:
        """Input shapes that have a graph."""
        return len(self._graphs)

    def run(self, feeds: Arrays) -> list[np.ndarray[Any, Any]]:
        """Replay the graph of these shapes, or run without one and make the graph for next time."""
        key = shape_key(feeds)
        with self._lock:
            graph = self._graphs.get(key)
            if graph is None:
                results = self._session.run(self._output_names, feeds, _options(-1))
                if len(self._graphs) < self._limit:
                    self._graphs[key] = self._make(feeds, results, len(self._graphs) + 1)
                return list(results)
            for name, array in feeds.items():
                graph.inputs[name].update_inplace(np.ascontiguousarray(array))
            self._session.run_with_iobinding(graph.binding, graph.run_options)
            return list(graph.binding.copy_outputs_to_cpu())

    def _make(self, feeds: Arrays, results: list[Any], graph_id: int) -> _Graph:
        import onnxruntime as ort

        binding = self._session.io_binding()
        inputs = {}
        for name, array in feeds.items():
            value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self._device, 0)
            binding.bind_ortvalue_input(name, value)
            inputs[name] = value
        for name, result in zip(self._output_names, results, strict=True):
            out = ort.OrtValue.ortvalue_from_shape_and_type(
                result.shape, result.dtype, self._device, 0
            )
            binding.bind_ortvalue_output(name, out)
        options = _options(graph_id)
        self._session.run_with_iobinding(binding, options)  # the run that captures the graph
        return _Graph(binding=binding, inputs=inputs, run_options=options)


def _options(graph_id: int) -> Any:
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("gpu_graph_id", str(graph_id))
    return options
