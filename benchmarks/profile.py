"""py-spy sampling of our server under load, summarised as where its CPU time goes."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from benchmarks.servers import bench_dir

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    """The py-spy binary from the bench tools venv, or one on PATH."""
    candidate = bench_dir() / "tools" / "bin" / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profile_during(pid: int, output: Path, seconds: float) -> Iterator[None]:
    """Record collapsed stacks of `pid` (and its threads) while the body runs."""
    binary = py_spy()
    if binary is None:
        yield
        return
    command = [
        binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds) - 1)),
        "--rate", "200", "--format", "raw", "--output", str(output), "--nonblocking",
    ]  # fmt: skip
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            recorder.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(timeout=10)


def _frame(raw: str) -> str:
    return _LINE.sub(")", raw.strip())


def summarize(
    path: Path, top: int = 12
) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """Samples, the top frames by own time and by inclusive time (shares of all samples)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return 0, [], []
    outermost = max(inclusive.values())  # the entry chain every main-thread sample shares
    nested = [(f, n) for f, n in inclusive.most_common() if n < outermost][:top]
    return (
        total,
        [(f, n / total) for f, n in own.most_common(top)],
        [(f, n / total) for f, n in nested],
    )
