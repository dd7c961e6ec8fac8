"""`modelplane run` with a model that cannot load stops at once and says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.models import broken_onnx

ISVC = """\
apiVersion: serving.modelplane.io/v1beta1
kind: InferenceService
metadata:
  name: iris
spec:
  predictor:
    model:
      modelFormat:
        name: onnx
      storageUri: file://{model_dir}
"""


def test_a_model_that_cannot_load_stops_the_run_with_its_reason(tmp_path: Path) -> None:
    broken_onnx(tmp_path / "iris" / "model.onnx")
    manifest = tmp_path / "isvc.yaml"
    manifest.write_text(ISVC.format(model_dir=tmp_path / "iris"))
    workdir = tmp_path / "work"
    options = ("-f", str(manifest), "--workdir", str(workdir), "--ready-timeout", "90")
    done = subprocess.run(
        [sys.executable, "-m", "modelplane", "run", *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "iris-predictor exited with 1 before it was ready" in done.stdout
    assert "ModelLoadFailed: iris: model.onnx" in done.stdout
    message = (workdir / "iris-predictor.termination-log").read_text()
    assert message.startswith("ModelLoadFailed: iris: model.onnx: ")
