"""Run local processes: start with prefixed logs, wait for readiness, stop all on the way out."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Setup:
    """A command run to completion before its process starts (e.g. a model download)."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Process:
    """One local process: a model server, transformer or router."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    port: int
    setup: tuple[Setup, ...] = ()
    ready_path: str = "/v2/health/ready"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class ProcessFailed(RuntimeError):
    """A process exited before it was ready, or a setup command failed."""


def _die_with_parent() -> None:
    """In the child: get SIGTERM when modelplane run itself dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Running:
    """A started process and the thread copying its output."""

    spec: Process
    popen: subprocess.Popen[bytes]
    pump: threading.Thread
    tail: list[str] = field(default_factory=list)


class Supervisor:
    """Owns every process it starts; `stop()` leaves none behind."""

    def __init__(self, out: TextIO, base_env: Mapping[str, str] | None = None) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._env = dict(os.environ if base_env is None else base_env)
        self.running: list[Running] = []

    def log(self, name: str, line: str) -> None:
        """One output line, prefixed with the process name."""
        with self._lock:
            self._out.write(f"[{name}] {line.rstrip()}\n")
            self._out.flush()

    def run_setup(self, name: str, setup: Setup, timeout: float) -> None:
        """Run one command to completion (e.g. a model download), its output logged."""
        argv = setup.argv
        self.log(name, "$ " + " ".join(argv))
        result = subprocess.run(
            list(argv),
            env={**self._env, **setup.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
            preexec_fn=_die_with_parent,
        )
        for line in result.stdout.decode(errors="replace").splitlines():
            self.log(name, line)
        if result.returncode != 0:
            raise ProcessFailed(f"{name}: {' '.join(argv[3:])} exited with {result.returncode}")

    def start(self, spec: Process) -> Running:
        """Start a process in its own process group, its output copied line by line."""
        popen = subprocess.Popen(
            list(spec.argv),
            env={**self._env, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        running = Running(spec, popen, threading.Thread(target=lambda: None))
        running.pump = threading.Thread(target=self._pump, args=(running,), daemon=True)
        running.pump.start()
        self.running.append(running)
        return running

    def _pump(self, running: Running) -> None:
        assert running.popen.stdout is not None
        for raw in running.popen.stdout:
            line = raw.decode(errors="replace")
            running.tail = [*running.tail[-19:], line.rstrip()]
            self.log(running.spec.name, line)

    def wait_ready(self, processes: Sequence[Running], timeout: float) -> None:
        """Poll each process's readiness URL until all answer 200, within timeout seconds."""
        deadline = time.monotonic() + timeout
        pending = list(processes)
        while pending:
            for running in list(pending):
                code = running.popen.poll()
                if code is not None:
                    running.pump.join(timeout=2)
                    raise ProcessFailed(
                        f"{running.spec.name} exited with {code} before it was ready:\n  "
                        + "\n  ".join(running.tail[-10:])
                    )
                if _ready(running.spec.url + running.spec.ready_path):
                    pending.remove(running)
            if pending and time.monotonic() > deadline:
                raise ProcessFailed(
                    f"not ready after {timeout:.0f}s: {', '.join(r.spec.name for r in pending)}"
                )
            if pending:
                time.sleep(0.2)

    def exited(self) -> list[Running]:
        """Processes that are no longer running."""
        return [r for r in self.running if r.popen.poll() is not None]

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every process group (routers first), then SIGKILL what is left after grace."""
        for running in reversed(self.running):
            _signal_group(running.popen, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for running in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        for running in self.running:
            # The group too: a server's worker processes share it.
            _signal_group(running.popen, signal.SIGKILL)
            running.popen.wait()
            running.pump.join(timeout=2)


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
