"""Triton's model-configuration and statistics extensions as pure functions of our own state.

Both are built as Triton's JSON documents; the gRPC edge parses the same dicts into Triton's
protobuf messages, so REST and gRPC cannot disagree. Statistics are read from the Prometheus
metric families (summed over --workers there), never counted a second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import Metric

from modelplane.model_server.backends.base import Signature
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.protocol.types import MetadataTensor

# Triton's backend name for each platform our backends report.
_BACKENDS = {
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
    "pytorch_export": "pytorch",
    "python": "python",
}
_INSTANCE_KINDS = {"cpu": "KIND_CPU", "cuda": "KIND_GPU", "auto": "KIND_AUTO"}
_NS = 1e9


def data_type(datatype: str) -> str:
    """Triton's model-config data type for a V2 datatype (BYTES is TYPE_STRING)."""
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


def model_config(
    name: str, platform: str, config: ModelConfig, signature: Signature
) -> dict[str, Any]:
    """Triton's model configuration (JSON shape) of one loaded model version."""
    batch = config.max_batch_size

    def tensor(t: MetadataTensor) -> dict[str, Any]:
        dims = t.shape[1:] if batch > 0 and t.shape else t.shape
        return {"name": t.name, "data_type": data_type(t.datatype), "dims": list(dims)}

    doc: dict[str, Any] = {
        "name": name,
        "platform": platform if platform != "python" else "",
        "backend": _BACKENDS.get(platform, platform),
        "max_batch_size": batch,
        "input": [tensor(t) for t in signature.inputs],
        "output": [tensor(t) for t in signature.outputs],
        "instance_group": [
            {
                "name": f"{name}_0",
                "kind": _INSTANCE_KINDS[config.device],
                "count": config.instances,
            }
        ],
        "parameters": {k: {"string_value": str(v)} for k, v in config.parameters.items()},
    }
    if batch > 0 and config.batching is not None:
        batching = config.batching
        dynamic: dict[str, Any] = {
            "preferred_batch_size": list(batching.preferred_batch_sizes),
            "max_queue_delay_microseconds": batching.max_queue_delay_us,
        }
        policy: dict[str, Any] = {}
        if batching.max_queue_size:
            policy["max_queue_size"] = batching.max_queue_size
        if batching.timeout is not None:
            policy["default_timeout_microseconds"] = round(batching.timeout * 1e6)
        if policy:
            dynamic["default_queue_policy"] = policy
        doc["dynamic_batching"] = dynamic
    return doc


Key = tuple[str, str]


class _Totals:
    """What the metric families say about one model version."""

    def __init__(self) -> None:
        self.requests: dict[str, float] = defaultdict(float)  # outcome -> count
        self.latency: dict[str, float] = defaultdict(float)  # outcome -> seconds
        self.phases: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # count, seconds
        self.inferences = 0.0
        self.executions = 0.0
        self.last = 0.0


_PHASES = {
    "modelplane_inference_queue_duration_seconds": "queue",
    "modelplane_inference_compute_input_duration_seconds": "compute_input",
    "modelplane_inference_compute_infer_duration_seconds": "compute_infer",
    "modelplane_inference_compute_output_duration_seconds": "compute_output",
}


def _totals(families: Iterable[Metric]) -> dict[Key, _Totals]:
    totals: dict[Key, _Totals] = defaultdict(_Totals)
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            if "model" not in labels or "version" not in labels:
                continue
            t = totals[(labels["model"], labels["version"])]
            name, value = sample.name, sample.value
            if name == "modelplane_inference_requests_total":
                t.requests[labels["outcome"]] += value
            elif name == "modelplane_inference_request_duration_seconds_sum":
                t.latency[labels["outcome"]] += value
            elif name == "modelplane_inferences_total":
                t.inferences += value
            elif name == "modelplane_inference_executions_total":
                t.executions += value
            elif name == "modelplane_inference_last_timestamp_seconds":
                t.last = max(t.last, value)
            else:
                base, _, suffix = name.rpartition("_")
                phase = _PHASES.get(base)
                if phase is not None and suffix in ("count", "sum"):
                    t.phases[phase][0 if suffix == "count" else 1] += value
    return totals


def _merged(a: _Totals, b: _Totals) -> _Totals:
    """Requests that failed before a version was chosen count against the latest version."""
    out = _Totals()
    for t in (a, b):
        for k, v in t.requests.items():
            out.requests[k] += v
        for k, v in t.latency.items():
            out.latency[k] += v
        for k, (count, seconds) in t.phases.items():
            out.phases[k][0] += count
            out.phases[k][1] += seconds
        out.inferences += t.inferences
        out.executions += t.executions
        out.last = max(out.last, t.last)
    return out


def _duration(count: float, seconds: float) -> dict[str, int]:
    return {"count": int(count), "ns": round(seconds * _NS)}


def model_statistics(versions: Iterable[Key], families: Iterable[Metric]) -> dict[str, Any]:
    """Triton's statistics document for these (model, version) pairs, from the metric families."""
    totals = _totals(families)
    pairs = list(versions)
    latest = {m: max((v for n, v in pairs if n == m), key=int) for m, _ in pairs}
    stats = []
    for model, version in pairs:
        t = totals.get((model, version), _Totals())
        if latest[model] == version and (model, "") in totals:
            t = _merged(t, totals[(model, "")])
        inference_stats = {
            "success": _duration(t.requests["success"], t.latency["success"]),
            "fail": _duration(t.requests["failure"], t.latency["failure"]),
        }
        for phase in _PHASES.values():
            count, seconds = t.phases.get(phase, (0.0, 0.0))
            inference_stats[phase] = _duration(count, seconds)
        # No response cache: always zero, but present, as perf_analyzer reads both.
        inference_stats["cache_hit"] = _duration(0, 0)
        inference_stats["cache_miss"] = _duration(0, 0)
        stats.append(
            {
                "name": model,
                "version": version,
                "last_inference": int(t.last * 1000),  # milliseconds since the epoch
                "inference_count": int(t.inferences),
                "execution_count": int(t.executions),
                "inference_stats": inference_stats,
                "batch_stats": [],
            }
        )
    return {"model_stats": stats}
