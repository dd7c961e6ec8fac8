"""Pure device choices: ONNX Runtime execution providers and the torch device."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from modelplane.model_server.errors import ModelLoadFailed

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def select_providers(device: str, available: Sequence[str], gpu_present: bool) -> list[str]:
    """Execution providers for `device` (cpu|cuda|auto) given what onnxruntime offers."""
    if device == "cpu":
        return [CPU]
    has_cuda = CUDA in available
    if device == "cuda":
        if not has_cuda:
            raise ModelLoadFailed(
                f"device cuda: onnxruntime has no {CUDA} (available: {', '.join(available)}); "
                "install onnxruntime-gpu"
            )
        if not gpu_present:
            raise ModelLoadFailed("device cuda: no GPU is visible to this process")
        return [CUDA, CPU]
    return [CUDA, CPU] if has_cuda and gpu_present else [CPU]


def select_torch_device(device: str, cuda_available: bool) -> str:
    """The torch device string for `device` (cpu|cuda|auto)."""
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        if not cuda_available:
            raise ModelLoadFailed("device cuda: torch sees no CUDA device")
        return "cuda"
    return "cuda" if cuda_available else "cpu"


def gpu_present() -> bool:
    """Whether an NVIDIA GPU device node is visible (cheap; no CUDA initialisation)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/dev/nvidiactl").exists() or Path("/dev/nvidia0").exists()
