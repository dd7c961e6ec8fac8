"""`make bench`: our server and its peers on one model, one wrk load against each in turn."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import httpx

from benchmarks import perf_analyzer, report, servers
from benchmarks.load import Cell, run_wrk, session_cpu_seconds
from benchmarks.model import INPUT_NAME, MODEL_NAME, export, sample_row
from benchmarks.processes import stop_group
from benchmarks.profile import profile_during

CLIENTS = (1, 16)
PERF_REQUESTS = int(os.environ.get("BENCH_PERF_REQUESTS", "2000"))  # per perf_analyzer window
READY_TIMEOUT = 180.0


@contextlib.contextmanager
def running(server: servers.Server, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own process group; stop the whole group afterwards."""
    log = (logs / f"{server.slug}.log").open("wb")
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
        stop_group(process)
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


def median_cell(cells: list[Cell]) -> Cell:
    """The median of each figure over the rounds (errors and requests summed)."""
    return Cell(
        rps=statistics.median(c.rps for c in cells),
        p50_ms=statistics.median(c.p50_ms for c in cells),
        p99_ms=statistics.median(c.p99_ms for c in cells),
        requests=sum(c.requests for c in cells),
        errors=sum(c.errors for c in cells),
        cpu_ms=statistics.median(c.cpu_ms for c in cells),
    )


def main() -> int:
    seconds = float(os.environ.get("BENCH_SECONDS", "4"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    wanted = set(os.environ.get("BENCH_SERVERS", "modelplane,kserve,mlserver,pytriton").split(","))
    bench = servers.bench_dir()
    work = bench / "run"
    (work / "logs").mkdir(parents=True, exist_ok=True)
    pkl, onnx = export(work / "model")
    plan = [
        servers.modelplane(work, onnx, batching=False),
        servers.modelplane(work, onnx, batching=True),
        servers.modelplane(work, onnx, batching=True, workers=2),
        servers.kserve(bench, pkl),
        servers.mlserver(bench, work, pkl, batching=False),
        servers.mlserver(bench, work, pkl, batching=True),
        servers.pytriton(bench, pkl, batching=False),
        servers.pytriton(bench, pkl, batching=True),
    ]
    plan = [server for server in plan if server.name in wanted]
    failures: dict[str, str] = {}
    samples: dict[str, dict[int, list[Cell]]] = {s.label: {c: [] for c in CLIENTS} for s in plan}
    profiled = work / "profile.txt"
    profiled.unlink(missing_ok=True)
    with contextlib.ExitStack() as stack:
        live: list[tuple[servers.Server, Path, int]] = []
        processes = [(s, stack.enter_context(running(s, work / "logs"))) for s in plan]
        for server, process in processes:  # all start together; only one is loaded at a time
            try:
                wait_ready(server, process)
            except (RuntimeError, httpx.HTTPError) as exc:
                failures[server.label] = str(exc)
                print(f"bench: {server.label} FAILED: {exc}", flush=True)
                continue
            body = work / f"body-{server.name}.json"
            body.write_text(json.dumps(server.body))
            run_wrk(server.infer_url, body, 16, 2)  # warm-up
            live.append((server, body, process.pid))
        for round_ in range(1, rounds + 1):
            for server, body, pid in live:  # rounds interleave servers: background load hits all
                for clients in CLIENTS:
                    cpu = session_cpu_seconds(pid)
                    cell = run_wrk(server.infer_url, body, clients, seconds)
                    used = session_cpu_seconds(pid) - cpu
                    cell = replace(cell, cpu_ms=1000 * used / max(1, cell.requests))
                    samples[server.label][clients].append(cell)
                    print(f"round {round_} {server.label:40} c={clients:<3} {cell}", flush=True)
        perf = run_perf_analyzer([server for server, _, _ in live])
        target = next((x for x in live if x[0].label == report.OURS_BATCH), None)
        if target is not None:
            with profile_during(target[2], profiled, seconds):
                run_wrk(target[0].infer_url, target[1], 16, seconds)
    results = {
        label: {c: median_cell(cells) for c, cells in by_clients.items() if cells}
        for label, by_clients in samples.items()
        if label not in failures
    }
    saved = {
        "results": {k: {c: asdict(v) for c, v in r.items()} for k, r in results.items()},
        "failures": failures,
        "seconds": seconds,
        "rounds": rounds,
    }
    saved["perf_analyzer"] = {key: asdict(cell) for key, cell in perf.items()}
    (work / "results.json").write_text(json.dumps(saved))
    return write_docs(results, failures, seconds, rounds, profiled, perf)


def run_perf_analyzer(live: list[servers.Server]) -> dict[str, perf_analyzer.PerfCell]:
    """Triton's perf_analyzer over HTTP, gRPC and gRPC streams (`--streaming`: one stream per
    client, which Triton's own clients use for throughput) at each client count, for each
    server with a gRPC port; keys are `label|protocol|clients`. Empty when perf_analyzer is not
    installed; a server without streaming fails its row, printed, and keeps the others."""
    exe = perf_analyzer.binary()
    if exe is None:
        print("bench: perf_analyzer not installed (make perf-analyzer); skipping it", flush=True)
        return {}
    out: dict[str, perf_analyzer.PerfCell] = {}
    for server in live:
        if server.grpc_port is None:
            continue
        shapes = {INPUT_NAME: [1, len(sample_row())]}
        rows = (
            ("http", server.http_port, False),
            ("grpc", server.grpc_port, False),
            ("grpc-stream", server.grpc_port, True),
        )
        for protocol, port, streaming in rows:
            for clients in CLIENTS:
                key = f"{server.label}|{protocol}|{clients}"
                try:
                    out[key] = perf_analyzer.run(
                        exe,
                        f"127.0.0.1:{port}",
                        "grpc" if streaming else protocol,
                        MODEL_NAME,
                        clients,
                        shapes,
                        requests=PERF_REQUESTS,
                        streaming=streaming,
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    print(f"bench: perf_analyzer {key} FAILED: {exc}", flush=True)
                    continue
                print(f"perf_analyzer {key:50} {out[key]}", flush=True)
    return out


def render_saved() -> int:
    """Rewrite docs/benchmarks.md and the chart from the last run's results.json."""
    work = servers.bench_dir() / "run"
    saved = json.loads((work / "results.json").read_text())
    results = {
        label: {int(c): Cell(**cell) for c, cell in cells.items()}
        for label, cells in saved["results"].items()
    }
    perf = {k: perf_analyzer.PerfCell(**v) for k, v in saved.get("perf_analyzer", {}).items()}
    return write_docs(
        results, saved["failures"], saved["seconds"], saved["rounds"], work / "profile.txt", perf
    )


def write_docs(
    results: dict[str, dict[int, Cell]],
    failures: dict[str, str],
    seconds: float,
    rounds: int,
    profiled: Path,
    perf: dict[str, perf_analyzer.PerfCell],
) -> int:
    """docs/benchmarks.md and docs/benchmarks.png from the figures; prints the table."""
    text = report.render(results, failures, seconds, rounds, profiled, perf)
    docs = servers.REPO_ROOT / "docs"
    docs.mkdir(exist_ok=True)
    report.chart(results, docs / "benchmarks.png")
    (docs / "benchmarks.md").write_text(text)
    print(report.table(results))
    print(report.perf_table(perf))
    print("\n".join(report.verdicts(results)))
    print(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(render_saved() if sys.argv[1:] == ["render"] else main())
