"""`modelplane run` on files it cannot take: one line naming the file and what is wrong, exit 2
(a file that was not YAML was a Python traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.local.cli import main

ISVC = """\
apiVersion: serving.modelplane.io/v1beta1
kind: InferenceService
metadata:
  name: x
spec:
  predictor:
    model:
      modelFormat:
        name: onnx
      storageUri: file:///models/x
"""

GRAPH = """\
apiVersion: serving.modelplane.io/v1alpha1
kind: InferenceGraph
metadata:
  name: g
spec:
  nodes:
    root:
      routerType: Switch
      steps:
        - serviceName: x
          condition: "outputs.0 >"
"""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (": : :\n", "not valid YAML: while parsing a block mapping"),
        ("- just\n- a list\n", "expected a mapping per YAML document, got list"),
        (ISVC + "      bogusField: 1\n", "spec.predictor.model.bogusField"),
        ("kind: Foo\n", "unknown apiVersion/kind ''/'Foo'"),
        (GRAPH, "invalid condition 'outputs.0 >': unexpected end of condition at 11"),
    ],
)
def test_a_file_it_cannot_take_is_named_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["-f", str(path), "--workdir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"modelplane run: {path}: "), err
    assert words in err
    assert "Traceback" not in err
