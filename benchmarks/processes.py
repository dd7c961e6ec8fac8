"""Benchmarked processes: stopping a server's whole process group, politely first; keeping
the CPUs awake for a pass that measures a loaded machine; one CPU for a pass where no wakeup
crosses CPUs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator


def stop_group(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGINT the process's group, wait `grace` seconds, then SIGKILL the group; then SIGKILL
    any straggler of the group (a server's own children, e.g. tritonserver)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def busy_cpus(seconds: float = 900.0) -> Iterator[list[int]]:
    """One lowest-priority (nice 19) spinning process per CPU for the block, ended by PID.

    On a virtual machine an idle vCPU halts, and waking it for the next request costs tens of
    microseconds (an exit to the hypervisor and back), several times a request's own work on a
    hop. Spinners at nice 19 keep the vCPUs awake while yielding to everything else, as a
    loaded machine would. Each spinner also stops by itself after `seconds`.
    """
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    procs = [
        subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", code])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


@contextlib.contextmanager
def one_cpu() -> Iterator[int]:
    """This process, and every process it starts in the block, on one CPU (the first it may
    use); the previous affinity is restored after.

    Processes that hand a request to each other on one CPU never wake another vCPU, and take
    turns: a hop's latency is then all the work its process does per request.
    """
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)
