"""The GPU benchmark's pure parts: the plan of cases, the binary V2 codec of its load, the report."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from benchmarks import gpu_report
from benchmarks.gpu import CPU, GPU, ONNX_OPTION_SETS, plan
from benchmarks.gpu_load import binary_request, decode_output, percentile


def test_gpu_plan_serves_batching_first_then_options_then_two_instances() -> None:
    cases = plan(GPU, onnx_served=True)
    assert [(c.backend, c.batching, c.instances) for c in cases[:4]] == [
        ("onnx", True, 1),
        ("torchscript", True, 1),
        ("onnx", False, 1),
        ("torchscript", False, 1),
    ]
    assert all(c.clients == (1, 16, 64) for c in cases[:4])
    options = [c.options for c in cases if c.options != "defaults"]
    assert options == [name for name in ONNX_OPTION_SETS if name != "defaults"]
    assert [(c.backend, c.instances, c.clients) for c in cases[-2:]] == [
        ("onnx", 2, (64,)),
        ("torchscript", 2, (64,)),
    ]
    assert len({c.slug for c in cases}) == len(cases)


def test_without_onnx_cuda_only_torch_is_served() -> None:
    cases = plan(GPU, onnx_served=False)
    assert {c.backend for c in cases} == {"torchscript"}
    assert {c.options for c in cases} == {"defaults"}


def test_cpu_plan_has_no_cuda_option_sets() -> None:
    assert {c.options for c in plan(CPU, onnx_served=True)} == {"defaults"}


def test_binary_request_is_a_v2_header_then_the_raw_tensor() -> None:
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    body, header_bytes = binary_request("x", "y", image)
    header = json.loads(body[:header_bytes])
    assert header["inputs"][0] == {
        "name": "x",
        "shape": [1, 3, 2, 2],
        "datatype": "FP32",
        "parameters": {"binary_data_size": 48},
    }
    assert header["outputs"] == [{"name": "y", "parameters": {"binary_data": True}}]
    assert np.array_equal(np.frombuffer(body[header_bytes:], dtype=np.float32), image.ravel())


def test_decode_output_skips_other_binary_outputs() -> None:
    a, b = np.ones(2, dtype=np.float32), np.arange(6, dtype=np.float32)
    header = json.dumps(
        {
            "outputs": [
                {"name": "a", "shape": [2], "parameters": {"binary_data_size": 8}},
                {"name": "y", "shape": [2, 3], "parameters": {"binary_data_size": 24}},
            ]
        }
    ).encode()
    got = decode_output(header + a.tobytes() + b.tobytes(), len(header), "y")
    assert np.array_equal(got, b.reshape(2, 3))
    with pytest.raises(ValueError, match="no output 'z'"):
        decode_output(header + a.tobytes() + b.tobytes(), len(header), "z")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([], 0.99) == 0.0


def _results(served_onnx: float, device: str = "cuda") -> dict[str, Any]:
    def cell(options: str, rps: float, errors: int = 0) -> dict[str, Any]:
        return {
            "backend": "onnx",
            "options": options,
            "parameters": ONNX_OPTION_SETS[options],
            "batching": True,
            "instances": 1,
            "clients": 64,
            "rps": rps,
            "p50_ms": 1.0,
            "p99_ms": 2.0,
            "errors": errors,
        }

    return {
        "mode": "gpu",
        "started": "2026-12-06T10:00:00+00:00",
        "sizes": {"clients": [1, 16, 64], "device": device},
        "direct": [
            {"backend": "onnx", "options": "defaults", "batch": 32, "images_per_s": 900.0},
            {"backend": "onnx", "options": "defaults", "batch": 64, "images_per_s": 1000.0},
            {"backend": "torchscript", "options": "defaults", "batch": 64, "images_per_s": 500.0},
            {
                "backend": "torchscript",
                "options": "defaults",
                "batch": 64,
                "images_per_s": 5000.0,
                "resident": True,
            },
        ],
        "served": [
            cell("defaults", served_onnx),
            cell("cuda_graph", served_onnx + 50),
            cell("io_binding", served_onnx + 500, errors=3),
        ],
    }


def test_target_is_batched_serving_at_the_most_clients_over_the_best_host_batch_rate() -> None:
    rows = {r["backend"]: r for r in gpu_report.targets(_results(850.0))}
    assert rows["onnx"]["ceiling"] == 1000.0
    assert rows["onnx"]["ratio"] == pytest.approx(0.85)
    assert rows["onnx"]["met"]
    assert not rows["torchscript"]["met"]
    assert rows["torchscript"]["ratio"] is None  # never served: not measured, not 0%
    assert rows["torchscript"]["ceiling"] == 500.0  # the device-resident rate is not the ceiling
    assert not {r["backend"]: r for r in gpu_report.targets(_results(700.0))}["onnx"]["met"]


def test_best_onnx_options_ignore_cells_with_errors_and_cpu_runs() -> None:
    best = gpu_report.best_onnx_options(_results(850.0))
    assert best is not None and best["options"] == "cuda_graph"
    assert best["parameters"] == {"cuda_graph": True}
    assert gpu_report.best_onnx_options(_results(850.0, device="cpu")) is None


def test_markdown_note_has_the_tables_and_the_verdicts() -> None:
    text = gpu_report.markdown(_results(850.0) | {"notes": ["onnx had no CUDA provider"]})
    assert "| onnx | defaults | 64 | 1,000 | host numpy |" in text
    assert "| onnx | cuda_graph | yes | 1 | 64 | 900 | 1.00 | 2.00 | 0 | - | - |" in text
    assert "- onnx: 850 / 1,000 = 85% MET" in text
    assert "- torchscript: not measured" in text
    assert "best set: cuda_graph {'cuda_graph': True}" in text
    assert "- onnx had no CUDA provider" in text


def test_a_run_that_measured_nothing_says_so() -> None:
    empty = {"mode": "gpu", "started": "-", "sizes": {"clients": [1], "device": "cuda"}}
    text = gpu_report.markdown(empty | {"notes": ["torch sees no CUDA device"]})
    assert "- model: not built" in text
    assert "- nothing measured" in text
    assert "- torch sees no CUDA device" in text
    assert gpu_report.best_onnx_options(empty) is None
