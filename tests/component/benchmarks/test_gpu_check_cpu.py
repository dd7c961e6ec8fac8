"""`benchmarks/gpu_check.sh --cpu`: the GPU check's whole flow, small, on CPU, with real figures.

One ONNX case at 1 and 2 clients keeps it short; the full dry run is `make gpu-check-cpu`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gpu-check")
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "GPU_CHECK_SECONDS": "200"}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu", "--",
         "--cases", "1", "--clients", "1", "2", "--cell-seconds", "0.5"],
        env=env, capture_output=True, text=True, timeout=260, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return out


def test_every_file_is_written_under_out(out: Path) -> None:
    names = {p.name for p in out.iterdir()}
    assert {
        "gpu_check.log",
        "environment.txt",
        "gpu_tests.xml",
        "results.json",
        "results.md",
        "servers.log",
    } <= names
    assert "onnxruntime" in (out / "environment.txt").read_text()


def test_the_cuda_marked_tests_ran_and_skipped_without_a_gpu(out: Path) -> None:
    suite = ET.parse(out / "gpu_tests.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 7
    assert int(suite.get("errors", "1")) == 0 and int(suite.get("failures", "1")) == 0
    assert int(suite.get("skipped", "0")) == int(suite.get("tests", "0"))


def test_ceilings_and_served_cells_are_measured(out: Path) -> None:
    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "cpu"
    direct = {(d["backend"], d["batch"], bool(d.get("resident"))) for d in results["direct"]}
    assert {("onnx", 8, False), ("torchscript", 8, False), ("torchscript", 8, True)} <= direct
    assert all(d["images_per_s"] > 0 and d["iterations"] > 0 for d in results["direct"])
    served = results["served"]
    assert [(c["backend"], c["batching"], c["clients"]) for c in served] == [
        ("onnx", True, 1),
        ("onnx", True, 2),
    ]
    for cell in served:
        assert cell["requests"] > 0 and cell["errors"] == 0
        assert 0 < cell["p50_ms"] <= cell["p99_ms"]
        assert cell["max_abs_diff"] < 1e-3  # the served answer is the backend's own
    assert results["targets"][0]["backend"] == "onnx"
    assert results["targets"][0]["ratio"] > 0
    assert any("beyond --cases 1" in s for s in results["skipped"])


def test_a_cuda_model_is_refused_when_no_gpu_is_visible(out: Path) -> None:
    selection = json.loads((out / "results.json").read_text())["selection"]
    assert selection["refused_as_expected"], selection
    assert "torch sees no CUDA device" in selection["cuda_visible_devices_empty"]


def test_the_note_has_the_tables(out: Path) -> None:
    text = (out / "results.md").read_text()
    assert "## Direct batched rate" in text
    assert "| onnx | defaults | yes | 1 | 2 |" in text
    assert "- onnx: " in text
