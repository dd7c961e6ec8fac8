"""`benchmarks.processes.one_cpu`: the benchmark's third pass runs every process on one CPU."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.processes import one_cpu


def test_processes_started_inside_share_one_cpu_and_the_affinity_comes_back() -> None:
    before = os.sched_getaffinity(0)
    with one_cpu() as cpu:
        assert os.sched_getaffinity(0) == {cpu}
        assert cpu == min(before)
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert child.stdout.strip() == f"[{cpu}]"
    assert os.sched_getaffinity(0) == before
