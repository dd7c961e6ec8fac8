"""Every sample renders to exactly the children in its golden file.

Regenerate after an intended change with MODELPLANE_UPDATE_GOLDENS=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.unit.operator.samples import SAMPLES, render_sample

GOLDENS = Path(__file__).parent / "goldens"


def test_every_sample_has_a_golden() -> None:
    assert SAMPLES, "no samples found in manifests/samples"
    assert {p.stem for p in GOLDENS.glob("*.yaml")} == {p.stem for p in SAMPLES}


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_renders_its_golden(sample: Path) -> None:
    text = yaml.safe_dump_all(render_sample(sample), sort_keys=False)
    golden = GOLDENS / f"{sample.stem}.yaml"
    if os.environ.get("MODELPLANE_UPDATE_GOLDENS") == "1":
        golden.write_text(text)
    assert golden.exists(), f"missing golden {golden.name}; run with MODELPLANE_UPDATE_GOLDENS=1"
    assert text == golden.read_text()


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_render_is_deterministic_and_every_child_is_owned_and_labelled(sample: Path) -> None:
    first, second = render_sample(sample), render_sample(sample)
    assert first == second
    for obj in first:
        meta = obj["metadata"]
        assert meta["namespace"] == "default"
        assert meta["ownerReferences"][0]["controller"] is True
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "modelplane"
        assert len(meta["name"]) <= 63
