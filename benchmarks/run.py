"""`make bench`: our server and its peers on one model, one wrk load against each in turn."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import httpx

from benchmarks import report, servers
from benchmarks.load import Cell, run_wrk
from benchmarks.model import export
from benchmarks.profile import profile_during

CLIENTS = (1, 16)
READY_TIMEOUT = 180.0


@contextlib.contextmanager
def running(server: servers.Server, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own process group; stop the whole group afterwards."""
    log = (logs / f"{server.name}-{int(server.batching)}.log").open("wb")
    env = {**os.environ, **server.env}
    process = subprocess.Popen(
        server.command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=server.cwd,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group (e.g. tritonserver)
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def wait_ready(server: servers.Server, process: subprocess.Popen[bytes]) -> None:
    """Poll readiness (bounded), then check that one infer request answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=5.0) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{server.label} exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(server.ready_url).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.label} not ready after {READY_TIMEOUT:g}s")
            time.sleep(0.5)
        answer = client.post(server.infer_url, json=server.body)
        if answer.status_code != 200:
            raise RuntimeError(f"{server.label} infer: {answer.status_code} {answer.text[:300]}")


def measure(server: servers.Server, work: Path, seconds: float, profile: bool) -> dict[int, Cell]:
    """Warm up, then one wrk cell per client count; optionally a profiled extra run."""
    body = work / f"body-{server.name}.json"
    body.write_text(json.dumps(server.body))
    cells: dict[int, Cell] = {}
    with running(server, work / "logs") as process:
        wait_ready(server, process)
        run_wrk(server.infer_url, body, 16, 2)
        for clients in CLIENTS:
            cells[clients] = run_wrk(server.infer_url, body, clients, seconds)
            print(f"  {server.label:32} c={clients:<3} {cells[clients]}", flush=True)
        if profile:
            with profile_during(process.pid, work / f"profile-{int(server.batching)}.txt", seconds):
                run_wrk(server.infer_url, body, 16, seconds)
    return cells


def main() -> int:
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    wanted = set(os.environ.get("BENCH_SERVERS", "modelplane,kserve,mlserver,pytriton").split(","))
    bench = servers.bench_dir()
    work = bench / "run"
    (work / "logs").mkdir(parents=True, exist_ok=True)
    pkl, onnx = export(work / "model")
    plan = [
        servers.modelplane(work, onnx, batching=False),
        servers.modelplane(work, onnx, batching=True),
        servers.kserve(bench, pkl),
        servers.mlserver(bench, work, pkl, batching=False),
        servers.mlserver(bench, work, pkl, batching=True),
        servers.pytriton(bench, pkl, batching=False),
        servers.pytriton(bench, pkl, batching=True),
    ]
    results: dict[str, dict[int, Cell]] = {}
    failures: dict[str, str] = {}
    for server in plan:
        if server.name not in wanted:
            continue
        print(f"bench: {server.label}", flush=True)
        try:
            results[server.label] = measure(server, work, seconds, server.name == "modelplane")
        except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
            failures[server.label] = str(exc)
            print(f"  FAILED: {exc}", flush=True)
    (work / "results.json").write_text(
        json.dumps({k: {c: asdict(v) for c, v in r.items()} for k, r in results.items()})
    )
    profiles = {b: work / f"profile-{b}.txt" for b in (0, 1)}
    text = report.render(results, failures, seconds, profiles)
    docs = servers.REPO_ROOT / "docs"
    docs.mkdir(exist_ok=True)
    report.chart(results, docs / "benchmarks.png")
    (docs / "benchmarks.md").write_text(text)
    print(report.table(results))
    print("\n".join(report.verdicts(results)))
    print(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
