"""The termination message of a model that failed to load: the model server writes it, the operator reads it.

Kubernetes keeps at most 4096 bytes of a container's termination message file and shows
them in the pod's `lastState.terminated.message`; one line `ModelLoadFailed: MODEL: REASON`
is what `modelplane.operator.pod_reasons` turns into the `ModelLoadFailed` status reason.
"""

from __future__ import annotations

MODEL_LOAD_PREFIX = "ModelLoadFailed: "
DEFAULT_PATH = "/dev/termination-log"  # Kubernetes' default terminationMessagePath
LIMIT_BYTES = 4096  # what the kubelet keeps of the file


def model_load_failed(failures: dict[str, str]) -> str:
    """One line naming each failed model and its reason, at most LIMIT_BYTES of UTF-8.

    A model name of "" stands for the repository itself (it could not be scanned).
    """
    parts = [f"{name}: {reason}" if name else reason for name, reason in failures.items()]
    text = MODEL_LOAD_PREFIX + " ".join("; ".join(parts).split())
    return bounded(text)


def bounded(text: str, limit: int = LIMIT_BYTES) -> str:
    """text cut to `limit` bytes of UTF-8 (ending in "…" when cut), never mid-character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = "…"
    room = limit - len(marker.encode())
    return data[:room].decode(errors="ignore") + marker
