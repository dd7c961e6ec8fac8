"""The ONNX backend's model.yaml parameters: mapped to onnxruntime's options, anything else refused."""

from __future__ import annotations

import pytest

from modelplane.model_server.backends.onnx_options import (
    CUDA_DEFAULTS,
    OnnxOptions,
    Scalar,
    check_tensor_types,
    cuda_applies,
    cuda_provider_options,
    parse_options,
    with_provider_options,
)
from modelplane.model_server.errors import ModelLoadFailed

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def test_no_parameters_give_the_cuda_defaults() -> None:
    assert parse_options({}, "cuda") == CUDA_DEFAULTS
    assert cuda_provider_options(CUDA_DEFAULTS) == {
        "cudnn_conv_algo_search": "EXHAUSTIVE",
        "enable_cuda_graph": "0",
    }


def test_every_option_reaches_onnxruntime() -> None:
    options = parse_options(
        {
            "intra_op_threads": 3,
            "cudnn_conv_algo_search": "HEURISTIC",
            "io_binding": True,
            "cuda_graph": True,
        },
        "cuda",
    )
    assert options == OnnxOptions(
        intra_op_threads=3, cudnn_conv_algo_search="HEURISTIC", io_binding=True, cuda_graph=True
    )
    assert with_provider_options([CUDA, CPU], options) == [
        (CUDA, {"cudnn_conv_algo_search": "HEURISTIC", "enable_cuda_graph": "1"}),
        CPU,
    ]


def test_cpu_providers_get_no_cuda_options() -> None:
    options = parse_options({"intra_op_threads": 2}, "cpu")
    assert options.intra_op_threads == 2
    assert with_provider_options([CPU], options) == [CPU]
    assert not cuda_applies([CPU])
    assert cuda_applies([CUDA, CPU])


@pytest.mark.parametrize(
    ("parameters", "device", "message"),
    [
        ({"cuda_graphs": True}, "cuda", "unknown onnx parameter 'cuda_graphs'"),
        ({"class": "Model"}, "auto", "unknown onnx parameter 'class'"),
        ({"intra_op_threads": "2"}, "cpu", "intra_op_threads must be a positive integer"),
        ({"intra_op_threads": 0}, "cpu", "intra_op_threads must be a positive integer"),
        ({"intra_op_threads": True}, "cpu", "intra_op_threads must be a positive integer"),
        ({"cudnn_conv_algo_search": "fast"}, "cuda", "one of EXHAUSTIVE, HEURISTIC, DEFAULT"),
        ({"cudnn_conv_algo_search": 1}, "cuda", "one of EXHAUSTIVE, HEURISTIC, DEFAULT"),
        ({"io_binding": "yes"}, "cuda", "io_binding must be true or false"),
        ({"cuda_graph": 1}, "auto", "cuda_graph must be true or false"),
        ({"cuda_graph": True}, "cpu", "cuda_graph is a CUDA provider option; device is cpu"),
        ({"io_binding": False}, "cpu", "io_binding is a CUDA provider option; device is cpu"),
    ],
)
def test_bad_parameters_are_refused_by_name(
    parameters: dict[str, Scalar], device: str, message: str
) -> None:
    with pytest.raises(ModelLoadFailed, match=message):
        parse_options(parameters, device)


def test_graphs_and_bindings_refuse_bf16_and_bytes_tensors() -> None:
    check_tensor_types(OnnxOptions(cuda_graph=True), ["FP32", "INT64"])
    check_tensor_types(OnnxOptions(), ["BF16", "BYTES"])
    with pytest.raises(ModelLoadFailed, match="cuda_graph does not support BF16"):
        check_tensor_types(OnnxOptions(cuda_graph=True), ["FP32", "BF16"])
    with pytest.raises(ModelLoadFailed, match="io_binding does not support BYTES"):
        check_tensor_types(OnnxOptions(io_binding=True), ["BYTES"])
