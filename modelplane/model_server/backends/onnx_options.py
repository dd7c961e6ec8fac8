"""The ONNX backend's `model.yaml` parameters, checked, and mapped to onnxruntime's options (pure).

    parameters:
      intra_op_threads: 2                  # SessionOptions.intra_op_num_threads (any device)
      cudnn_conv_algo_search: HEURISTIC    # CUDA provider: EXHAUSTIVE | HEURISTIC | DEFAULT
      io_binding: true                     # CUDA: inputs and outputs through an IOBinding
      cuda_graph: true                     # CUDA: capture one CUDA graph per input shape

An unknown parameter, a value of the wrong type, or a CUDA option on `device: cpu` is a load
failure naming it. With `device: auto` on a machine without CUDA the CUDA options do not apply
(`cuda_applies` says so, and the backend logs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Final, Literal, get_args

from modelplane.model_server.errors import ModelLoadFailed

CudnnSearch = Literal["EXHAUSTIVE", "HEURISTIC", "DEFAULT"]
Scalar = str | int | float | bool


@dataclass(frozen=True)
class OnnxOptions:
    """What the parameters ask of onnxruntime; defaults are `CUDA_DEFAULTS` below."""

    intra_op_threads: int | None = None
    cudnn_conv_algo_search: CudnnSearch = "EXHAUSTIVE"
    io_binding: bool = False
    cuda_graph: bool = False


# The defaults for the CUDA provider, the one place to change them. They are onnxruntime's own
# (exhaustive cuDNN search, plain Session.run, no CUDA graph) until `benchmarks/gpu_check.sh`
# has measured the option sets on a GPU: it reports the best set, which then goes here.
CUDA_DEFAULTS: Final = OnnxOptions()
CUDA_ONLY: Final = frozenset({"cudnn_conv_algo_search", "io_binding", "cuda_graph"})
KNOWN: Final = frozenset(f.name for f in fields(OnnxOptions))
# Input shapes that get their own captured CUDA graph; further shapes run without one.
MAX_CUDA_GRAPHS: Final = 32


def parse_options(parameters: Mapping[str, Scalar], device: str) -> OnnxOptions:
    """`parameters` of an ONNX model's model.yaml as options; anything unknown or ill-typed is refused."""
    unknown = sorted(set(parameters) - KNOWN)
    if unknown:
        raise ModelLoadFailed(
            f"model.yaml parameters: unknown onnx parameter {unknown[0]!r} "
            f"(known: {', '.join(sorted(KNOWN))})"
        )
    cuda_asked = sorted(CUDA_ONLY & set(parameters))
    if device == "cpu" and cuda_asked:
        raise ModelLoadFailed(
            f"model.yaml parameters: {cuda_asked[0]} is a CUDA provider option; device is cpu"
        )
    options = CUDA_DEFAULTS
    if "intra_op_threads" in parameters:
        options = replace(options, intra_op_threads=_positive_int("intra_op_threads", parameters))
    if "cudnn_conv_algo_search" in parameters:
        options = replace(options, cudnn_conv_algo_search=_search(parameters))
    if "io_binding" in parameters:
        options = replace(options, io_binding=_bool("io_binding", parameters))
    if "cuda_graph" in parameters:
        options = replace(options, cuda_graph=_bool("cuda_graph", parameters))
    return options


def cuda_provider_options(options: OnnxOptions) -> dict[str, str]:
    """The CUDAExecutionProvider's provider options (onnxruntime takes strings)."""
    return {
        "cudnn_conv_algo_search": options.cudnn_conv_algo_search,
        "enable_cuda_graph": "1" if options.cuda_graph else "0",
    }


def with_provider_options(
    providers: list[str], options: OnnxOptions
) -> list[str | tuple[str, dict[str, str]]]:
    """`providers` for InferenceSession, the CUDA provider carrying its options."""
    return [
        (name, cuda_provider_options(options)) if name == "CUDAExecutionProvider" else name
        for name in providers
    ]


def cuda_applies(providers: list[str]) -> bool:
    """Whether the CUDA options take effect: the CUDA provider is among those chosen."""
    return "CUDAExecutionProvider" in providers


def check_tensor_types(options: OnnxOptions, datatypes: list[str]) -> None:
    """IO binding and CUDA graphs take numeric tensors only (BF16 and BYTES go another way)."""
    if not (options.io_binding or options.cuda_graph):
        return
    odd = sorted({t for t in datatypes if t in ("BF16", "BYTES")})
    if odd:
        asked = "cuda_graph" if options.cuda_graph else "io_binding"
        raise ModelLoadFailed(f"model.yaml parameters: {asked} does not support {odd[0]} tensors")


def _positive_int(name: str, parameters: Mapping[str, Scalar]) -> int:
    value = parameters[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelLoadFailed(
            f"model.yaml parameters: {name} must be a positive integer, got {value!r}"
        )
    return value


def _bool(name: str, parameters: Mapping[str, Scalar]) -> bool:
    value = parameters[name]
    if not isinstance(value, bool):
        raise ModelLoadFailed(f"model.yaml parameters: {name} must be true or false, got {value!r}")
    return value


def _search(parameters: Mapping[str, Scalar]) -> CudnnSearch:
    value = parameters["cudnn_conv_algo_search"]
    allowed: tuple[CudnnSearch, ...] = get_args(CudnnSearch)
    for choice in allowed:
        if value == choice:
            return choice
    raise ModelLoadFailed(
        f"model.yaml parameters: cudnn_conv_algo_search must be one of {', '.join(allowed)}, "
        f"got {value!r}"
    )
