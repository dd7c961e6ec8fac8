"""One load-generator cell: wrk against a V2 infer URL for a bounded time, parsed into figures."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).with_name("post.lua")


@dataclass(frozen=True)
class Cell:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms: float = 0.0  # server CPU (all its processes) per request


def parse(output: str) -> Cell:
    """The figures from post.lua's WRK_JSON line."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
            errors = sum(raw[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
            good = raw["requests"] - raw["non2xx"]
            return Cell(
                rps=good / (raw["duration_us"] / 1e6),
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                requests=raw["requests"],
                errors=errors,
            )
    raise ValueError(f"no WRK_JSON line in wrk output:\n{output}")


def session_cpu_seconds(session: int) -> float:
    """CPU time used so far by every live process of one session (a server and its children)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[3]) == session:  # field 6 of stat: session id
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, body_file: Path, clients: int, seconds: float) -> Cell:
    """POST the body to url from `clients` connections for `seconds` (one wrk thread)."""
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    env = {"WRK_BODY_FILE": str(body_file), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    return parse(done.stdout)
