"""`--workers N`: N server processes on the same ports (SO_REUSEPORT), metrics summed across them.

The parent binds nothing but the optional metrics port; it makes one fresh directory for
prometheus_client's multiprocess files, starts the workers (spawned, so each imports
prometheus_client with that directory set), forwards SIGTERM/SIGINT, and when any worker
exits on its own stops the others and exits non-zero (the pod restarts).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from multiprocessing.process import BaseProcess
from typing import Any

from prometheus_client import CollectorRegistry

from modelplane import logs
from modelplane.model_server.listeners import bind_socket, start_metrics_port
from modelplane.model_server.server import serve_one
from modelplane.model_server.settings import ServerSettings
from modelplane.model_server.worker_metrics import (
    MULTIPROC_ENV,
    exposition_registry,
    worker_exited,
)

log = logging.getLogger(__name__)


def pick_ports(settings: ServerSettings) -> ServerSettings:
    """Settings with port 0 replaced by a concrete free port, so all workers agree on it."""
    updates: dict[str, int] = {}
    for field in ("http_port", "grpc_port"):
        if getattr(settings, field) == 0:
            with contextlib.closing(bind_socket(settings.host, 0, reuse_port=True)) as probe:
                updates[field] = int(probe.getsockname()[1])
    return settings.model_copy(update=updates) if updates else settings


def _worker(settings: ServerSettings) -> None:
    logs.configure(settings.log_level, settings.log_format)
    raise SystemExit(serve_one(settings))  # 1 after a startup load failure with the flag


def serve_workers(settings: ServerSettings) -> int:
    """Run settings.workers processes until a signal (0) or a worker's own exit (1)."""
    settings = pick_ports(settings)
    directory = tempfile.mkdtemp(prefix="modelplane-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = directory  # inherited by the spawned workers
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    processes: list[BaseProcess] = []
    metrics_server: Any = None

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(settings.workers):
            worker = context.Process(target=_worker, args=(settings,), name="modelplane-worker")
            worker.start()
            processes.append(worker)
        log.info(
            "workers started",
            extra={"workers": [p.pid for p in processes], "http_port": settings.http_port},
        )
        summed = exposition_registry(CollectorRegistry(), directory)
        metrics_server = start_metrics_port(settings, summed)
        code = _supervise(processes, stopping, worker_exited)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if metrics_server is not None:
            metrics_server.shutdown()
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join(timeout=5)
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)
    return code


def _supervise(processes: list[BaseProcess], stopping: threading.Event, exited: Any) -> int:
    """Wait for workers; the first one to leave without being asked stops all of them."""
    from multiprocessing.connection import wait

    live = {p.sentinel: p for p in processes}
    code = 0
    while live:
        for sentinel in wait(list(live), timeout=1.0):
            process = live.pop(sentinel)  # type: ignore[arg-type]
            process.join()
            if process.pid is not None:
                exited(process.pid)
            if not stopping.is_set():
                log.error("worker exited", extra={"pid": process.pid, "code": process.exitcode})
                stopping.set()
                code = 1
                for other in live.values():
                    if other.pid is not None and other.is_alive():
                        os.kill(other.pid, signal.SIGTERM)
    return code
