"""The GPU benchmark's model: a ResNet-18-shaped CNN built here, exported to ONNX and TorchScript.

Built from torch.nn alone (no torchvision), with seeded weights, so every run serves the same
model. `Shape` says how big: ResNet-18 is widths 64/128/256/512, two basic blocks per stage,
224x224 RGB in, 1000 classes out (11.7 M parameters); the CPU dry run uses a narrow, small one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INPUT = "x"
OUTPUT = "y"


@dataclass(frozen=True)
class Shape:
    """The network's size."""

    image: int = 224
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    classes: int = 1000

    @property
    def input_shape(self) -> list[int]:
        """One request's input, batch dimension first."""
        return [1, 3, self.image, self.image]


def build(shape: Shape) -> Any:
    """The CNN in eval mode, weights seeded (torch.manual_seed(0))."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )

        def forward(self, x: Any) -> Any:
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + self.down(x))

    torch.manual_seed(0)
    w = shape.widths
    layers: list[Any] = [
        nn.Conv2d(3, w[0], 7, 2, 3, bias=False),
        nn.BatchNorm2d(w[0]),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = w[0]
    for stage, cout in enumerate(w):
        stride = 1 if stage == 0 else 2
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, shape.classes)]
    return nn.Sequential(*layers).eval()


def parameters(module: Any) -> int:
    """How many weights the module has."""
    return int(sum(p.numel() for p in module.parameters()))


def export(shape: Shape, directory: Path) -> tuple[Path, Path]:
    """Write model.onnx (opset 17, dynamic batch) and model.pt (TorchScript trace); both paths."""
    import torch

    module = build(shape)
    directory.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(shape.input_shape)
    onnx_path = directory / "model.onnx"
    torch.onnx.export(
        module,
        (example,),
        str(onnx_path),
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        opset_version=17,
        dynamo=False,  # the TorchScript-based exporter: no onnxscript needed, stable graphs
    )
    with torch.inference_mode():
        traced = torch.jit.trace(module, example)  # type: ignore[no-untyped-call]
    pt_path = directory / "model.pt"
    traced.save(str(pt_path))
    return onnx_path, pt_path


def model_dir(
    root: Path,
    name: str,
    source: Path,
    shape: Shape,
    device: str,
    max_batch_size: int,
    instances: int,
    parameters: dict[str, str | int | bool] | None = None,
) -> Path:
    """A one-model repository entry: the model file linked in, and its model.yaml."""
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / source.name
    if not target.exists():
        target.symlink_to(source.resolve())
    config: dict[str, Any] = {}
    if source.suffix == ".pt":  # TorchScript carries no tensor types; ONNX does
        config["inputs"] = [
            {"name": INPUT, "datatype": "FP32", "shape": [-1, *shape.input_shape[1:]]}
        ]
        config["outputs"] = [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, shape.classes]}]
    config |= {"max_batch_size": max_batch_size, "instances": instances, "device": device}
    if max_batch_size:
        config["batching"] = {"max_queue_delay_us": 0}
    if parameters:
        config["parameters"] = parameters
    (directory / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory
