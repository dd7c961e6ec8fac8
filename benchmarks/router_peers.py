"""KServe's InferenceGraph router: the peer `make bench-router` measures ours against.

`benchmarks/peers/kserve_router.sh` builds it from the Go module proxy at the version its
wrapper module pins. It runs as shipped: Go net/http, one JSON log line per step on stderr,
the graph in KServe's own field names (ours are the same). It listens on port 8080 of every
interface and takes no flag to change that, so a benchmark that runs it first moves itself
into a private network namespace with only a loopback device: nothing started there can be
reached from anywhere else, or reach anywhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PORT = 8080  # KServe's constants.RouterPort
READY_PATH = "/readyz"  # KServe's constants.RouterReadinessEndpoint
NETNS_ENV = "MODELPLANE_BENCH_NETNS"
WRAPPER = Path(__file__).resolve().parent / "peers" / "kserve-router" / "go.mod"


def version() -> str:
    """The KServe version the wrapper module pins (its go.mod is the one place it is said)."""
    for line in WRAPPER.read_text().splitlines():
        words = line.split()
        if words[:2] == ["require", "github.com/kserve/kserve"]:
            return words[2]
    raise SystemExit(f"no github.com/kserve/kserve in {WRAPPER}")


def command(binary: str, nodes: dict[str, Any]) -> list[str]:
    """KServe's router serving a graph given as our router's `nodes` (same field names)."""
    return [binary, "--graph-json", json.dumps({"nodes": nodes})]


def inside_private_netns() -> bool:
    """Whether this process is the run `rerun_in_private_netns` started."""
    return os.environ.get(NETNS_ENV) == "1"


def rerun_in_private_netns(module: str, argv: list[str]) -> int | None:
    """Run `python -m module argv` again in a new network namespace with loopback up, and
    return its exit status; None when no namespace can be made here (a line says why)."""
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    up = ["sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    probe = subprocess.run([*unshare, "--", *up, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["unknown"])[-1]
        print(f"KServe router left out: no private network namespace here ({why})")
        return None
    env = {**os.environ, NETNS_ENV: "1"}
    return subprocess.call([*unshare, "--", *up, sys.executable, "-m", module, *argv], env=env)
