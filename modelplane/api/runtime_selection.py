"""Pick the ServingRuntime for a model: explicit name, else best auto-selecting runtime."""

from __future__ import annotations

from collections.abc import Sequence

from modelplane.api.inference_service import ModelSpec
from modelplane.api.serving_runtime import ServingRuntime, SupportedModelFormat

DEFAULT_PROTOCOL = "v2"


NO_SUPPORTING_RUNTIME = "NoSupportingRuntime"
RUNTIME_NOT_RECOGNIZED = "RuntimeNotRecognized"
RUNTIME_DISABLED = "RuntimeDisabled"


class NoRuntimeError(LookupError):
    """No runtime can serve the model; the message says why, `reason` names it (for status)."""

    def __init__(self, message: str, reason: str = NO_SUPPORTING_RUNTIME) -> None:
        super().__init__(message)
        self.reason = reason


def _format_match(model: ModelSpec, fmt: SupportedModelFormat) -> bool:
    want = model.model_format
    if fmt.name.lower() != want.name.lower():
        return False
    return want.version is None or fmt.version == want.version


def _protocol_ok(model: ModelSpec, runtime: ServingRuntime) -> bool:
    protocol = model.protocol_version or DEFAULT_PROTOCOL
    versions = runtime.spec.protocol_versions
    return versions is None or protocol in versions


def supports(runtime: ServingRuntime, model: ModelSpec) -> bool:
    """Whether the runtime is enabled and serves the model's format and protocol."""
    return (
        not runtime.spec.disabled
        and _protocol_ok(model, runtime)
        and any(_format_match(model, f) for f in runtime.spec.supported_model_formats)
    )


def _priority(runtime: ServingRuntime, model: ModelSpec) -> int:
    formats = [f for f in runtime.spec.supported_model_formats if _format_match(model, f)]
    return max((f.priority or 0) for f in formats if f.auto_select)


def select_runtime(model: ModelSpec, runtimes: Sequence[ServingRuntime]) -> ServingRuntime:
    """The runtime for model among namespace runtimes and cluster runtimes.

    An explicit `runtime` name wins (a namespaced ServingRuntime before a
    ClusterServingRuntime of the same name) and must support the model. Otherwise
    the enabled runtimes that auto-select the format compete: highest priority
    first, then namespaced before cluster-scoped, then by name.
    """
    if model.runtime is not None:
        named = [r for r in runtimes if r.metadata.name == model.runtime]
        named.sort(key=lambda r: r.KIND != "ServingRuntime")
        if not named:
            raise NoRuntimeError(f"runtime {model.runtime!r} not found", RUNTIME_NOT_RECOGNIZED)
        runtime = named[0]
        if runtime.spec.disabled:
            raise NoRuntimeError(f"runtime {model.runtime!r} is disabled", RUNTIME_DISABLED)
        if not supports(runtime, model):
            raise NoRuntimeError(
                f"runtime {model.runtime!r} does not support model format "
                f"{model.model_format.name!r} with protocol {model.protocol_version or 'v2'!r}"
            )
        return runtime
    candidates = [
        r
        for r in runtimes
        if supports(r, model)
        and any(f.auto_select and _format_match(model, f) for f in r.spec.supported_model_formats)
    ]
    if not candidates:
        raise NoRuntimeError(
            f"no runtime auto-selects model format {model.model_format.name!r}"
            + (f" version {model.model_format.version!r}" if model.model_format.version else "")
        )
    candidates.sort(
        key=lambda r: (-_priority(r, model), r.KIND != "ServingRuntime", r.metadata.name or "")
    )
    return candidates[0]
