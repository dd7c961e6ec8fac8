"""Triton's perf_analyzer against a V2 server: where it is installed, one bounded run, its figures.

The binary comes from `make perf-analyzer` (tools/perf_analyzer/install.sh, registries only).
Each run is bounded in requests (count windows) and in time (a subprocess timeout).
"""

from __future__ import annotations

import csv
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.servers import REPO_ROOT

INSTALLER = REPO_ROOT / "tools" / "perf_analyzer" / "install.sh"


@dataclass(frozen=True)
class PerfCell:
    """What one perf_analyzer run measured (latencies in milliseconds, client side)."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float


def binary() -> Path | None:
    """The installed perf_analyzer wrapper, or None when `make perf-analyzer` has not run."""
    out = subprocess.run(
        ["bash", str(INSTALLER), "--print-path"], capture_output=True, text=True, check=True
    )
    path = Path(out.stdout.strip())
    return path if path.is_file() else None


def run(
    exe: Path,
    target: str,
    protocol: str,
    model: str,
    concurrency: int,
    shapes: dict[str, list[int]],
    requests: int = 200,
    timeout: float = 120.0,
    streaming: bool = False,
) -> PerfCell:
    """perf_analyzer -m model over `protocol` ("http" or "grpc", on one gRPC stream per
    client with `streaming`) at one concurrency.

    `target` is host:port; `shapes` gives each input's full shape (perf_analyzer asks for it
    when the model has variable dimensions). Three count windows of `requests` requests;
    any spread is accepted (the figures are reported, not used to stop early).
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "pa.csv"
        command = [
            str(exe),
            "-m", model,
            "-u", target,
            "-i", protocol,
            "--concurrency-range", str(concurrency),
            "--measurement-mode", "count_windows",
            "--measurement-request-count", str(requests),
            "--max-trials", "3",
            "--stability-percentage", "1000",
            "-f", str(report),
        ]  # fmt: skip
        if streaming:
            command.append("--streaming")
        for name, shape in shapes.items():
            command += ["--shape", f"{name}:{','.join(str(d) for d in shape)}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0 or not report.exists():
            raise RuntimeError(
                f"perf_analyzer exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return parse(report.read_text())


def parse(text: str) -> PerfCell:
    """The figures of perf_analyzer's CSV report (-f), first row (latencies there are in us)."""
    row = next(csv.DictReader(io.StringIO(text)))
    return PerfCell(
        rps=float(row["Inferences/Second"]),
        p50_ms=float(row["p50 latency"]) / 1000,
        p90_ms=float(row["p90 latency"]) / 1000,
        p99_ms=float(row["p99 latency"]) / 1000,
    )
