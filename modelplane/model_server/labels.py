"""Class labels of a model's outputs (Triton's `label_filename`): a file in the model's
directory named by an output's `labels`, one label per line, read when the model loads."""

from __future__ import annotations

from pathlib import Path

from modelplane.model_server.config import ModelConfig
from modelplane.model_server.errors import ModelLoadFailed


def parse_labels(text: str) -> tuple[str, ...]:
    """One label per line, as C++'s getline reads them: a last newline ends the last label."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return tuple(line.removesuffix("\r") for line in lines)


def read_labels(config: ModelConfig, model_dir: Path) -> dict[str, tuple[str, ...]]:
    """Each output's labels, by output name (blocking: called where the model loads)."""
    labels: dict[str, tuple[str, ...]] = {}
    for output in config.outputs:
        if output.labels is None:
            continue
        path = model_dir / output.labels
        try:
            labels[output.name] = parse_labels(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadFailed(
                f"output {output.name!r}: labels file {output.labels!r} in the model's "
                f"directory cannot be read: {exc.strerror if isinstance(exc, OSError) else exc}"
            ) from None
    return labels
