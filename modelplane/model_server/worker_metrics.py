"""Metrics across worker processes: where the workers write (prometheus_client's multiprocess
files), the one registry that adds them up for a scrape, each live worker's process metrics
labelled by pid, and forgetting an exited worker's live gauges."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The shared directory of worker metric files, when running with several workers."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())


def exposition_registry(own: CollectorRegistry, multiproc: str | None) -> CollectorRegistry:
    """The registry to scrape: this process's own, or one adding up all workers' files."""
    if multiproc is None:
        return own
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc)  # type: ignore[no-untyped-call]
    registry.register(WorkerProcessCollector(Path(multiproc)))
    return registry


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid


_PID = re.compile(r"_(\d+)\.db$")


class WorkerProcessCollector(Collector):
    """Process metrics (CPU, memory, fds) of every live worker, labelled by pid."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for pid in sorted(live_worker_pids(self._directory)):
            collector = ProcessCollector(pid=_constant(pid), registry=None)
            for family in collector.collect():
                merged = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    labels = {**sample.labels, "pid": str(pid)}
                    merged.add_sample(sample.name, labels, sample.value)
        return list(families.values())


def live_worker_pids(directory: Path) -> Iterator[int]:
    """Pids that wrote metric files into the directory and are still running."""
    seen: set[int] = set()
    for path in directory.glob("*.db"):
        match = _PID.search(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid not in seen and Path(f"/proc/{pid}").exists():
            seen.add(pid)
            yield pid


def worker_exited(pid: int) -> None:
    """Forget an exited worker's live gauges (in flight, model state) in multiprocess mode."""
    directory = multiprocess_dir()
    if directory is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
