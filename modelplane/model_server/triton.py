"""Triton's model-configuration and statistics extensions as pure functions of our own state.

Both are built as Triton's JSON documents; the gRPC edge parses the same dicts into Triton's
protobuf messages, so REST and gRPC cannot disagree. Statistics are read from the Prometheus
metric families (summed over --workers there), never counted a second time. A Triton config
given on load maps back onto `model.yaml`'s fields here too (`config_from_triton`): what has
no equivalent is refused, naming the field.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import Metric
from pydantic import ValidationError

from modelplane.model_server.backends.base import Signature
from modelplane.model_server.config import BatchingConfig, ModelConfig, OutputConfig, TensorConfig
from modelplane.model_server.errors import InvalidInput, ModelServerError
from modelplane.model_server.protocol import triton_types as wire
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
) -> wire.ModelConfig:
    """Triton's model configuration of one loaded model version."""
    batch = config.max_batch_size

    def tensor(t: MetadataTensor) -> wire.TensorConfig:
        dims = t.shape[1:] if batch > 0 and t.shape else t.shape
        return wire.TensorConfig(name=t.name, data_type=data_type(t.datatype), dims=list(dims))

    labels = {t.name: t.labels for t in config.outputs if t.labels is not None}

    def output(t: MetadataTensor) -> wire.OutputConfig:
        fields = tensor(t).model_dump()
        return wire.OutputConfig(**fields, label_filename=labels.get(t.name))

    dynamic = None
    if batch > 0 and config.batching is not None:
        batching = config.batching
        policy = None
        if batching.max_queue_size or batching.timeout is not None:
            policy = wire.QueuePolicy(
                max_queue_size=batching.max_queue_size or None,
                default_timeout_microseconds=(
                    round(batching.timeout * 1e6) if batching.timeout is not None else None
                ),
            )
        dynamic = wire.DynamicBatching(
            preferred_batch_size=list(batching.preferred_batch_sizes),
            max_queue_delay_microseconds=batching.max_queue_delay_us,
            default_queue_policy=policy,
        )
    return wire.ModelConfig(
        name=name,
        platform=platform if platform != "python" else "",
        backend=_BACKENDS.get(platform, platform),
        max_batch_size=batch,
        input=[tensor(t) for t in signature.inputs],
        output=[output(t) for t in signature.outputs],
        instance_group=[
            wire.InstanceGroup(
                name=f"{name}_0", kind=_INSTANCE_KINDS[config.device], count=config.instances
            )
        ],
        parameters={k: wire.StringValue(string_value=str(v)) for k, v in config.parameters.items()},
        dynamic_batching=dynamic,
    )


_FIELD = "parameters.config"
_KINDS = {kind: device for device, kind in _INSTANCE_KINDS.items()}
_TOP = frozenset(
    {"name", "platform", "backend", "max_batch_size", "input", "output", "dynamic_batching",
     "instance_group", "parameters"}
)  # fmt: skip
_DYNAMIC = frozenset(
    {"preferred_batch_size", "max_queue_delay_microseconds", "default_queue_policy"}
)
_POLICY = frozenset({"max_queue_size", "default_timeout_microseconds"})
_TENSOR = frozenset({"name", "data_type", "dims"})
_OUTPUT = _TENSOR | {"label_filename"}
_GROUP = frozenset({"name", "kind", "count"})
# model.yaml field -> the Triton field it came from, for error messages
_TRITON_NAMES = {"inputs": "input", "outputs": "output", "instances": "instance_group[0].count"}


def config_from_triton(text: str, name: str) -> ModelConfig:
    """The model.yaml equivalent of a Triton model configuration (JSON) given on load.

    Like Triton, the given configuration replaces the model's own file for this load. The
    fields `model_config` writes are understood; any other field, or a value we cannot
    honour, is InvalidInput naming it (never silently dropped).
    """
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{_FIELD}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{_FIELD}: expected a JSON object")
    _only(doc, _TOP, _FIELD)
    if doc.get("name", name) != name:
        raise InvalidInput(f"{_FIELD}.name: {doc['name']!r} is not the model's name {name!r}")
    fields: dict[str, Any] = {}
    for key in ("platform", "backend"):
        if doc.get(key):
            fields[key] = doc[key]
    batch = doc.get("max_batch_size", 0)
    fields["max_batch_size"] = batch
    batched = isinstance(batch, int) and batch > 0
    fields["inputs"] = [
        _tensor(t, f"{_FIELD}.input[{i}]", batched) for i, t in enumerate(_list(doc, "input"))
    ]
    fields["outputs"] = [
        _output(t, f"{_FIELD}.output[{i}]", batched) for i, t in enumerate(_list(doc, "output"))
    ]
    if "dynamic_batching" in doc:
        if not batched:
            raise InvalidInput(f"{_FIELD}.dynamic_batching: needs max_batch_size > 0")
        fields["batching"] = _batching(doc["dynamic_batching"])
    groups = _list(doc, "instance_group")
    if len(groups) > 1:
        raise InvalidInput(f"{_FIELD}.instance_group: only one group is supported")
    if groups:
        fields.update(_group(groups[0], name))
    params = doc.get("parameters", {})
    if not isinstance(params, dict):
        raise InvalidInput(f"{_FIELD}.parameters: expected an object")
    values: dict[str, str] = {}
    for key, value in params.items():
        where = f"{_FIELD}.parameters.{key}"
        if not isinstance(value, dict):
            raise InvalidInput(f'{where}: expected {{"string_value": ...}}')
        _only(value, frozenset({"string_value"}), where)
        values[key] = str(value.get("string_value", ""))
    fields["parameters"] = values
    try:
        config = ModelConfig.model_validate(fields)
        config.backend_name()  # an unknown platform or backend is refused here, not at load
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [_TRITON_NAMES.get(str(err["loc"][0]), str(err["loc"][0])), *err["loc"][1:]]
        raise InvalidInput(f"{_FIELD}.{'.'.join(str(p) for p in loc)}: {err['msg']}") from None
    except ModelServerError as exc:
        raise InvalidInput(f"{_FIELD}: {exc.message}") from None
    return config


def _only(doc: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise InvalidInput(
            f"{where}.{extra[0]}: not supported by this server (supported: {', '.join(sorted(allowed))})"
        )


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise InvalidInput(f"{_FIELD}.{key}: expected a list")
    return value


def _output(doc: Any, where: str, batched: bool) -> OutputConfig:
    """An output, with its labels file (`label_filename`) when it names one."""
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected an object")
    _only(doc, _OUTPUT, where)
    tensor = _tensor({k: v for k, v in doc.items() if k != "label_filename"}, where, batched)
    labels = doc.get("label_filename") or None
    try:
        return OutputConfig(**tensor.model_dump(), labels=labels)
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"]
        raise InvalidInput(f"{where}.label_filename: {message}") from None


def _tensor(doc: Any, where: str, batched: bool) -> TensorConfig:
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected an object")
    _only(doc, _TENSOR, where)
    data_type = doc.get("data_type")
    if not isinstance(data_type, str) or not data_type.startswith("TYPE_"):
        raise InvalidInput(f"{where}.data_type: expected TYPE_<datatype>, not {data_type!r}")
    datatype = "BYTES" if data_type == "TYPE_STRING" else data_type.removeprefix("TYPE_")
    dims = doc.get("dims")
    if not isinstance(dims, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in dims
    ):
        raise InvalidInput(f"{where}.dims: expected a list of integers")
    shape = [-1, *dims] if batched else list(dims)
    return TensorConfig(name=str(doc.get("name", "")), datatype=datatype, shape=shape)


def _batching(doc: Any) -> BatchingConfig:
    where = f"{_FIELD}.dynamic_batching"
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected an object")
    _only(doc, _DYNAMIC, where)
    policy = doc.get("default_queue_policy", {})
    if not isinstance(policy, dict):
        raise InvalidInput(f"{where}.default_queue_policy: expected an object")
    _only(policy, _POLICY, f"{where}.default_queue_policy")
    timeout_us = policy.get("default_timeout_microseconds")
    fields: dict[str, Any] = {
        "preferred_batch_sizes": doc.get("preferred_batch_size", []),
        "max_queue_delay_us": doc.get("max_queue_delay_microseconds", 0),
        "max_queue_size": policy.get("max_queue_size", 0),
        "timeout": timeout_us / 1e6 if isinstance(timeout_us, int) and timeout_us else None,
    }
    try:
        return BatchingConfig.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise InvalidInput(f"{where}: {err['loc'][0]}: {err['msg']}") from None


def _group(doc: Any, name: str) -> dict[str, Any]:
    where = f"{_FIELD}.instance_group[0]"
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected an object")
    _only(doc, _GROUP, where)
    if doc.get("name", f"{name}_0") != f"{name}_0":
        raise InvalidInput(f"{where}.name: groups are named {name}_0 here, not {doc['name']!r}")
    kind = doc.get("kind", "KIND_AUTO")
    if kind not in _KINDS:
        raise InvalidInput(f"{where}.kind: {kind!r} is not one of {', '.join(_KINDS)}")
    return {"instances": doc.get("count", 1), "device": _KINDS[kind]}


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
        self.batches: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])  # count, seconds


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
            elif name == "modelplane_inference_batch_executions_total":
                t.batches[int(labels["batch_size"])][0] += value
            elif name == "modelplane_inference_batch_compute_infer_seconds_total":
                t.batches[int(labels["batch_size"])][1] += value
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
        for size, (count, seconds) in t.batches.items():
            out.batches[size][0] += count
            out.batches[size][1] += seconds
        out.inferences += t.inferences
        out.executions += t.executions
        out.last = max(out.last, t.last)
    return out


def _duration(count: float, seconds: float) -> wire.Duration:
    return wire.Duration(count=int(count), ns=round(seconds * _NS))


def model_statistics(
    versions: Iterable[Key], families: Iterable[Metric]
) -> wire.StatisticsResponse:
    """Triton's statistics for these (model, version) pairs, from the metric families."""
    totals = _totals(families)
    pairs = list(versions)
    latest = {m: max((v for n, v in pairs if n == m), key=int) for m, _ in pairs}
    stats = []
    for model, version in pairs:
        t = totals.get((model, version), _Totals())
        if latest[model] == version and (model, "") in totals:
            t = _merged(t, totals[(model, "")])
        phases = {phase: _duration(*t.phases.get(phase, (0.0, 0.0))) for phase in _PHASES.values()}
        inference_stats = wire.InferStatistics(
            success=_duration(t.requests["success"], t.latency["success"]),
            fail=_duration(t.requests["failure"], t.latency["failure"]),
            # No response cache: always zero, but present, as perf_analyzer reads both.
            cache_hit=_duration(0, 0),
            cache_miss=_duration(0, 0),
            **phases,
        )
        stats.append(
            wire.ModelStatistics(
                name=model,
                version=version,
                last_inference=int(t.last * 1000),  # milliseconds since the epoch
                inference_count=int(t.inferences),
                execution_count=int(t.executions),
                inference_stats=inference_stats,
                batch_stats=[
                    wire.BatchStatistics(
                        batch_size=size,
                        compute_input=_duration(0, 0),
                        compute_infer=_duration(count, seconds),
                        compute_output=_duration(0, 0),
                    )
                    for size, (count, seconds) in sorted(t.batches.items())
                    if count
                ],
            )
        )
    return wire.StatisticsResponse(model_stats=stats)
