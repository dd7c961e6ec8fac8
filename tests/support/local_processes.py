"""Local server processes: free ports, spawning tied to the parent, probes, termination."""

from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _die_with_parent() -> None:
    """preexec: SIGTERM this child when the launching thread dies (Linux PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _preexec(tied: bool, cgroup: Path | None) -> Callable[[], None] | None:
    """The child's setup before exec: join `cgroup` (a cgroup2 directory), tie to us."""
    if not tied and cgroup is None:
        return None

    def setup() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        if tied:
            _die_with_parent()

    return setup


def spawn(
    argv: list[str],
    log: Path,
    cwd: Path,
    tied: bool,
    env: dict[str, str] | None = None,
    cgroup: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, output appended to `log`; `tied`: dies with us;
    `cgroup`: the child (and everything it starts) runs in that cgroup2 directory."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_preexec(tied, cgroup),
        )


def log_tail(log: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def is_running(pid: int, marker: Path) -> bool:
    """True when `pid` runs a command line mentioning `marker` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(marker).encode() in cmdline


def proc_net_address(address: str, port: int) -> str:
    """An IPv4 address and port as /proc/net/tcp writes them (little-endian hex)."""
    return f"{int.from_bytes(ipaddress.IPv4Address(address).packed, 'little'):08X}:{port:04X}"


def listens_on(pid: int, port: int, address: str = "127.0.0.1") -> bool:
    """True when process `pid` holds a listening TCP socket on `address`:`port` (Linux /proc).

    A health probe alone could reach another session's server that won a port race.
    """
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        rows = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    inodes = set()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    wanted = proc_net_address(address, port)
    for row in rows:
        fields = row.split()
        if fields[1] == wanted and fields[3] == "0A" and fields[9] in inodes:
            return True
    return False


def terminate_child(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM a child we started, SIGKILL after `grace` seconds, and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def terminate_pid(pid: int, marker: Path, grace: float) -> None:
    """Like terminate_child for a process another launcher started (checked by `marker`)."""
    if not is_running(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_running(pid, marker):
            return
        time.sleep(0.1)
    if is_running(pid, marker):
        os.kill(pid, signal.SIGKILL)


def stop_recorded(
    name: str,
    pids: dict[str, int],
    procs: dict[str, subprocess.Popen[bytes]],
    marker: Path,
    grace: float,
) -> None:
    """Stop the component `name` a launcher recorded: its child if this process started it,
    else its pid (checked against `marker`, as another launcher started it)."""
    pid = pids.get(name)
    if pid is None:
        return
    proc = procs.get(name)
    if proc is not None:
        terminate_child(proc, grace)
    else:
        terminate_pid(pid, marker, grace)


def http_json(
    url: str,
    context: ssl.SSLContext | None = None,
    token: str = "",
    method: str = "GET",
    body: Any = None,
) -> tuple[int, Any]:
    """One JSON request; returns (status, parsed body or None). HTTP errors are returned."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def http_ok(url: str, context: ssl.SSLContext | None = None, token: str = "") -> bool:
    """True when GET `url` answers 200; connection errors count as not ready."""
    try:
        return http_json(url, context, token)[0] == 200
    except (urllib.error.URLError, OSError):
        return False
