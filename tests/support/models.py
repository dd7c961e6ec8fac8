"""Small real models built in tests: ONNX (onnx.helper), TorchScript, torch.export, python."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

from modelplane.local.sample import save_onnx

# V2 datatype -> onnx.TensorProto element type name.
ONNX_ELEMENT = {
    "BOOL": "BOOL",
    "UINT8": "UINT8",
    "UINT16": "UINT16",
    "UINT32": "UINT32",
    "UINT64": "UINT64",
    "INT8": "INT8",
    "INT16": "INT16",
    "INT32": "INT32",
    "INT64": "INT64",
    "FP16": "FLOAT16",
    "FP32": "FLOAT",
    "FP64": "DOUBLE",
    "BF16": "BFLOAT16",
    "BYTES": "STRING",
}


def onnx_add_sub(path: Path, datatype: str = "FP32", width: int = 4) -> Path:
    """INPUT0, INPUT1 [-1, width] -> OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1."""
    from onnx import TensorProto, helper

    elem = getattr(TensorProto, ONNX_ELEMENT[datatype])
    shape: list[Any] = [-1, width]

    def info(name: str) -> Any:
        return helper.make_tensor_value_info(name, elem, shape)

    graph = helper.make_graph(
        [
            helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
            helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
        ],
        "add_sub",
        [info("INPUT0"), info("INPUT1")],
        [info("OUTPUT0"), info("OUTPUT1")],
    )
    return save_onnx(graph, path)


def onnx_add_constant(path: Path, constant: float) -> Path:
    """INPUT0 FP32 [-1, 1] -> OUTPUT0 = INPUT0 + constant: models that answer differently."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["INPUT0", "C"], ["OUTPUT0"])],
        "add_constant",
        [helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, [-1, 1])],
        [helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, [-1, 1])],
        [helper.make_tensor("C", TensorProto.FLOAT, [1], [constant])],
    )
    return save_onnx(graph, path)


def onnx_add_constant_weighted(path: Path, constant: float, weight_floats: int) -> Path:
    """INPUT0 FP32 [-1, 1] -> OUTPUT0 = INPUT0 + constant, carrying `weight_floats` zero weights
    that every run reads (summed against INPUT0), so the model takes about 4 bytes per weight
    in memory once loaded: models of a known size for the memory capacity tests."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.zeros((weight_floats,), np.float32), "W")
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["INPUT0", "W"], ["SCALED"]),
            helper.make_node("ReduceSum", ["SCALED", "AXES"], ["ZERO"], keepdims=1),
            helper.make_node("Add", ["INPUT0", "C"], ["SHIFTED"]),
            helper.make_node("Add", ["SHIFTED", "ZERO"], ["OUTPUT0"]),
        ],
        "add_constant_weighted",
        [helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, [-1, 1])],
        [helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, [-1, 1])],
        [
            helper.make_tensor("C", TensorProto.FLOAT, [1], [constant]),
            helper.make_tensor("AXES", TensorProto.INT64, [1], [1]),
            weights,
        ],
    )
    return save_onnx(graph, path)


def broken_onnx(path: Path) -> Path:
    """A model.onnx cut in half, as an interrupted copy leaves it: onnxruntime cannot load it."""
    onnx_add_sub(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def onnx_identity(path: Path, datatype: str, width: int = 3) -> Path:
    """INPUT0 [-1, width] of `datatype` -> OUTPUT0 = Identity(INPUT0)."""
    from onnx import TensorProto, helper

    elem = getattr(TensorProto, ONNX_ELEMENT[datatype])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
        "identity",
        [helper.make_tensor_value_info("INPUT0", elem, [-1, width])],
        [helper.make_tensor_value_info("OUTPUT0", elem, [-1, width])],
    )
    return save_onnx(graph, path)


def onnx_matmul(
    path: Path,
    in_features: int = 8,
    out_features: int = 4,
    seed: int = 0,
    names: tuple[str, str] = ("x", "y"),
) -> Path:
    """x [-1, in] -> y = x @ W + b (FP32), a tiny linear layer with fixed random weights; its
    input and output are called `names`."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(
        rng.standard_normal((in_features, out_features)).astype(np.float32), "W"
    )
    bias = numpy_helper.from_array(rng.standard_normal(out_features).astype(np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [names[0], "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], [names[1]]),
        ],
        "linear",
        [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [-1, in_features])],
        [helper.make_tensor_value_info(names[1], TensorProto.FLOAT, [-1, out_features])],
        initializer=[weight, bias],
    )
    return save_onnx(graph, path)


def write_model_yaml(directory: Path, **config: Any) -> Path:
    """Write `model.yaml` with the given fields."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def python_model(directory: Path, source: str) -> Path:
    """Write a python-backend `model.py` with the given (dedented) source."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.py"
    path.write_text(textwrap.dedent(source))
    return path


def _torch_add_sub_module() -> Any:
    import torch

    class AddSub(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x + y, x - y

    return AddSub()


def torchscript_add_sub(directory: Path, width: int = 4) -> Path:
    """TorchScript (torch.jit.script) x, y [-1, width] FP32 -> sum, diff; writes model.pt + model.yaml."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.pt"
    torch.jit.script(_torch_add_sub_module()).save(str(path))
    spec = {"datatype": "FP32", "shape": [-1, width]}
    write_model_yaml(
        directory,
        backend="pytorch",
        inputs=[{"name": "x", **spec}, {"name": "y", **spec}],
        outputs=[{"name": "sum", **spec}, {"name": "diff", **spec}],
    )
    return path


def torchscript_linear(
    directory: Path, in_features: int = 8, out_features: int = 4, seed: int = 0
) -> Any:
    """TorchScript (torch.jit.trace) Linear layer; returns the eager module for reference results."""
    import torch

    torch.manual_seed(seed)
    module = torch.nn.Linear(in_features, out_features).eval()
    directory.mkdir(parents=True, exist_ok=True)
    torch.jit.trace(module, torch.zeros(1, in_features)).save(str(directory / "model.pt"))
    write_model_yaml(
        directory,
        inputs=[{"name": "x", "datatype": "FP32", "shape": [-1, in_features]}],
        outputs=[{"name": "y", "datatype": "FP32", "shape": [-1, out_features]}],
    )
    return module


def exported_add_sub(directory: Path, width: int = 4, dtype: str = "float32") -> Path:
    """torch.export program x, y [batch, width] -> (x + y, x - y), saved as model.pt2."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.pt2"
    example = (
        torch.ones(2, width, dtype=getattr(torch, dtype)),
        torch.ones(2, width, dtype=getattr(torch, dtype)),
    )
    batch = torch.export.Dim("batch")
    program = torch.export.export(
        _torch_add_sub_module(), example, dynamic_shapes={"x": {0: batch}, "y": {0: batch}}
    )
    torch.export.save(program, str(path))
    return path
