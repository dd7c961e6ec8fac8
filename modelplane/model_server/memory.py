"""Memory a model takes, measured around its load: the process's resident set and the GPU's use.

Host: the resident set size from /proc/self/statm (no dependency), read before and after a
load, each time after handing freed heap pages back to the system (malloc_trim); loads run
one at a time (modelplane.model_server.pool), so the difference is that model's. GPU: the device's used memory (total - free, `torch.cuda.mem_get_info`) read the same
way; it counts what PyTorch's caching allocator and ONNX Runtime's CUDA arena reserve alike.
The GPU is read only when asked for (a GPU pool) and when torch sees CUDA; the first read
creates the CUDA context, before any model's "before" reading, so no model is charged for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelplane.model_server.eviction import Footprint

STATM = Path("/proc/self/statm")


def parse_statm(text: str, page_size: int) -> int:
    """Resident bytes from a statm line (`size resident shared ...`, in pages)."""
    fields = text.split()
    if len(fields) < 2:
        raise ValueError(f"statm: expected at least two fields, got {text!r}")
    return int(fields[1]) * page_size


def rss_bytes(statm: Path = STATM) -> int:
    """This process's resident set size in bytes (0 where /proc is missing)."""
    try:
        text = statm.read_text()
    except OSError:
        return 0
    return parse_statm(text, os.sysconf("SC_PAGE_SIZE"))


def settled_rss() -> int:
    """The resident set after handing freed heap pages back (malloc_trim): without it, memory a
    previous load freed is reused by the next one, which then looks as if it took nothing."""
    give_back_freed_memory()
    return rss_bytes()


def torch_gpu_used() -> int | None:
    """Used bytes of the current CUDA device (total - free), or None without torch or CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, whole = torch.cuda.mem_get_info()
    return int(whole) - int(free)


@dataclass(frozen=True)
class Reading:
    """Memory in use at one moment; `gpu` is None when the GPU is not read."""

    host: int
    gpu: int | None


def grown(before: Reading, after: Reading) -> Footprint:
    """What a load added (never negative: memory freed meanwhile does not make a model smaller
    than nothing)."""
    gpu = 0
    if before.gpu is not None and after.gpu is not None:
        gpu = max(0, after.gpu - before.gpu)
    return Footprint(host=max(0, after.host - before.host), gpu=gpu)


class MemoryProbe:
    """Reads host and (when `gpu` is given) GPU memory in use; readers are injectable for tests."""

    def __init__(
        self,
        host: Callable[[], int] = settled_rss,
        gpu: Callable[[], int | None] | None = None,
    ) -> None:
        self._host = host
        self._gpu = gpu

    def read(self) -> Reading:
        """Blocking: the GPU reader may initialise CUDA; call it off the event loop."""
        gpu = self._gpu() if self._gpu is not None else None
        return Reading(host=self._host(), gpu=gpu)


def give_back_freed_memory() -> None:
    """Ask glibc to return freed heap pages to the system (malloc_trim), so that an evicted
    model's memory leaves the resident set; a no-op where there is no glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
