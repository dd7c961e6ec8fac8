"""Drive `modelplane run` as a user does: a subprocess, its output lines, the printed curls."""

from __future__ import annotations

import json
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

READY_LINE = "Ctrl-C stops everything."
START_TIMEOUT = 120.0


def descendants(pid: int) -> set[int]:
    """Every live process below pid, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Run:
    """A `modelplane run` subprocess whose output lines are collected by a thread."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "modelplane", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=None if env is None else dict(env),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float) -> list[str]:
        """Lines up to the one equal to text; fails with the output when it does not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            self.output.append(line)
            if line.strip() == text:
                return self.output
        pytest.fail(f"no {text!r} line; output:\n" + "\n".join(self.output[-40:]))

    def stop(self) -> None:
        """Kill the run if it is still going (test teardown)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=30)


def send(command: str) -> dict[str, object]:
    """Run a printed curl command with curl when it is installed, else the same POST with httpx."""
    if shutil.which("curl"):
        out = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
        )
        result: dict[str, object] = json.loads(out.stdout)
        return result
    words = shlex.split(command)
    body = words[words.index("-d") + 1]
    response = httpx.post(words[2], content=body, headers={"content-type": "application/json"})
    result = response.json()
    return result


def banner(output: list[str]) -> dict[str, tuple[str, str, str | None]]:
    """Name -> (kind, URL, printed curl command or None) from the ready banner."""
    found: dict[str, tuple[str, str, str | None]] = {}
    start = output.index("modelplane run: ready")
    for index, line in enumerate(output[start:], start):
        words = line.split()
        if line.startswith("  ") and not line.startswith("    ") and len(words) == 3:
            kind, name, url = words[0], words[1].rstrip(":"), words[2]
            after = output[index + 1].strip() if index + 1 < len(output) else ""
            found[name] = (kind, url, after if after.startswith("curl ") else None)
    return found
