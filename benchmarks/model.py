"""The benchmark model: a small scikit-learn classifier, pickled for peers and exported to ONNX for us."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES = 16
CLASSES = 3
INPUT_NAME = "input"
MODEL_NAME = "classifier"


def train() -> object:
    """A LogisticRegression on seeded synthetic data (same coefficients on every run)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(
        n_samples=2000, n_features=FEATURES, n_informative=8, n_classes=CLASSES, random_state=7
    )
    return LogisticRegression(max_iter=500).fit(x.astype(np.float32), y)


def export(directory: Path) -> tuple[Path, Path]:
    """Write model.joblib (for the peers) and model.onnx (for us); returns both paths."""
    import joblib
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    directory.mkdir(parents=True, exist_ok=True)
    model = train()
    pkl = directory / "model.joblib"
    joblib.dump(model, pkl)
    onx = convert_sklearn(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, FEATURES]))],
        options={id(model): {"zipmap": False}},
    )
    path = directory / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    return pkl, path


def sample_row() -> list[float]:
    """One request's features (fixed, so every server sees the same body)."""
    rng = np.random.default_rng(3)
    return [round(float(v), 4) for v in rng.normal(size=FEATURES)]
