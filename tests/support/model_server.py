"""Run a real model server for tests: in a thread of this process, or as a `modelplane serve` subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from modelplane.model_server.runners.factory import RunnerFactory, make_runner
from modelplane.model_server.server import ModelServer
from modelplane.model_server.settings import ServerSettings
from tests.support.ports import free_port

START_TIMEOUT_S = 60.0


@dataclass
class RunningServer:
    """Where a started server listens, and the in-process object when there is one."""

    http_port: int
    grpc_port: int
    server: ModelServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def http_target(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


@contextmanager
def server_in_thread(
    runner_factory: RunnerFactory = make_runner, **settings: Any
) -> Iterator[RunningServer]:
    """A ModelServer on its own event loop in a thread, ports picked by the OS; stops on exit."""
    values: dict[str, Any] = {"host": "127.0.0.1", "http_port": 0, "grpc_port": 0, **settings}
    server = ModelServer(ServerSettings(**values), runner_factory)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(server.run(install_signals=False))
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="model-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.dataplane.startup_done:
        if failure:
            raise failure[0]
        if time.monotonic() > deadline:
            raise TimeoutError("model server did not finish startup")
        time.sleep(0.01)
    assert server.http_port is not None
    try:
        yield RunningServer(server.http_port, server.grpc_port or -1, server)
    finally:
        loop.call_soon_threadsafe(server.stop, "test teardown")
        thread.join(timeout=30)
        loop.close()


@contextmanager
def server_process(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], RunningServer]]:
    """`modelplane serve ARGS` as a subprocess on fresh ports; waits for /v2/health/live.

    A port picked free can be taken by another process before the server binds it; the
    server then exits saying so, and it is started again on new ports (3 tries at most).
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    for attempt in range(3):
        http_port, grpc_port = free_port(), free_port()
        command = [
            sys.executable,
            "-m",
            "modelplane",
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            *args,
        ]
        proc = subprocess.Popen(
            command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        running = RunningServer(http_port, grpc_port)
        try:
            try:
                wait_live(running.url, proc)
            except RuntimeError as exc:
                if "already in use" in str(exc) and attempt < 2:
                    continue
                raise
            yield proc, running
            return
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    raise AssertionError("unreachable: the last attempt raises or yields")


def wait_live(url: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll /v2/health/live until it answers, at most START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/v2/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become live")


def wait_ready(url: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll /v2/health/ready until 200, bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become ready")
