"""The benchmark's table, target verdicts, chart and docs/benchmarks.md text."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from benchmarks.load import Cell
from benchmarks.perf_analyzer import PerfCell
from benchmarks.profile import summarize

Results = dict[str, dict[int, Cell]]
OURS_BATCH = "modelplane (batching)"
OURS_PLAIN = "modelplane (no batching)"


def table(results: Results) -> str:
    """Markdown table: one row per server configuration and client count."""
    rows = [
        "| server | clients | requests/s | p50 ms | p99 ms | server CPU ms/request | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, cells in results.items():
        for clients, cell in sorted(cells.items()):
            rows.append(
                f"| {label} | {clients} | {cell.rps:,.0f} | {cell.p50_ms:.2f} | "
                f"{cell.p99_ms:.2f} | {cell.cpu_ms:.2f} | {cell.errors} |"
            )
    return "\n".join(rows)


def _rps(results: Results, label: str, clients: int) -> float | None:
    cell = results.get(label, {}).get(clients)
    return cell.rps if cell else None


def _best(results: Results, prefix: str, clients: int) -> tuple[str, float] | None:
    """The configuration whose label starts with `prefix` with the most requests/s."""
    found = [
        (label, cells[clients].rps)
        for label, cells in results.items()
        if label.startswith(prefix) and clients in cells
    ]
    return max(found, key=lambda item: item[1]) if found else None


def _cpu_note(results: Results, ours: str, peer: str, clients: int) -> str:
    mine, theirs = results[ours][clients].cpu_ms, results[peer][clients].cpu_ms
    if not mine or not theirs:
        return ""
    return f"; server CPU per request {mine:.2f} ms vs {theirs:.2f} ms ({theirs / mine:.1f}x less)"


def verdicts(results: Results) -> list[str]:
    """Each target of the issue, with the measured ratio and MET/SHORT (or why it is unknown)."""
    lines = []
    ours = _best(results, "modelplane (batching", 16)  # 1 or 2 workers, as peers use their best
    for peer, goal in (("kserve", 3.0), ("mlserver", 3.0), ("pytriton", 1.2)):
        best = _best(results, peer + " ", 16)
        if ours is None or best is None:
            lines.append(f"- batching, 16 clients, >= {goal}x {peer}: not measured")
            continue
        ratio = ours[1] / best[1]
        mark = "MET" if ratio >= goal else "SHORT"
        lines.append(
            f"- batching, 16 clients, >= {goal}x {peer} (ours: {ours[0]}; theirs: {best[0]}): "
            f"{ours[1]:,.0f} / {best[1]:,.0f} = {ratio:.2f}x {mark}"
            f"{_cpu_note(results, ours[0], best[0], 16)}"
        )
    plain16, kserve16 = _rps(results, OURS_PLAIN, 16), _rps(results, "kserve (no batching)", 16)
    if plain16 and kserve16:
        ratio = plain16 / kserve16
        mark = "MET" if ratio >= 1.2 else "SHORT"
        lines.append(
            f"- no batching, 16 clients, >= 1.2x kserve: {plain16:,.0f} / {kserve16:,.0f} = "
            f"{ratio:.2f}x {mark}{_cpu_note(results, OURS_PLAIN, 'kserve (no batching)', 16)}"
        )
    ours1 = results.get(OURS_PLAIN, {}).get(1)
    kserve1 = results.get("kserve (no batching)", {}).get(1)
    if ours1 and kserve1:
        mark = "MET" if ours1.p50_ms <= kserve1.p50_ms else "SHORT"
        lines.append(
            f"- p50 at 1 client no worse than kserve: {ours1.p50_ms:.2f} ms vs "
            f"{kserve1.p50_ms:.2f} ms {mark}"
        )
    return lines


def chart(results: Results, path: Path) -> None:
    """Grouped bars of requests/s at each client count, one bar per server configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results)
    clients = sorted({c for cells in results.values() for c in cells})
    fig, axes = plt.subplots(1, len(clients), figsize=(5.5 * len(clients), 4.2), squeeze=False)
    for ax, count in zip(axes[0], clients, strict=True):
        values = [results[label].get(count, Cell(0, 0, 0, 0, 0)).rps for label in labels]
        colors = ["tab:green" if label.startswith("modelplane") else "tab:gray" for label in labels]
        ax.barh(labels, values, color=colors)
        ax.invert_yaxis()
        ax.set_title(f"{count} concurrent client{'s' if count > 1 else ''}")
        ax.set_xlabel("requests/s (higher is better)")
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    fig.suptitle("V2 REST infer, one-row sklearn classifier, 127.0.0.1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _profile_section(path: Path) -> list[str]:
    lines: list[str] = []
    if path.exists():
        total, own, inclusive = summarize(path)
        if not total:
            return lines
        lines += [
            f"## Where our server's time goes (batching, 16 clients; {total} py-spy samples)",
            "",
            "| own time | frame |",
            "| ---: | --- |",
            *[f"| {share:.0%} | `{frame}` |" for frame, share in own],
            "",
            "| inclusive | frame |",
            "| ---: | --- |",
            *[f"| {share:.0%} | `{frame}` |" for frame, share in inclusive],
            "",
        ]
    return lines


def perf_table(perf: dict[str, PerfCell]) -> str:
    """Markdown table of the perf_analyzer runs (keys `label|protocol|clients`)."""
    rows = [
        "| server | protocol | concurrency | infer/s | p50 ms | p90 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, cell in perf.items():
        label, protocol, clients = key.split("|")
        rows.append(
            f"| {label} | {protocol} | {clients} | {cell.rps:,.0f} | {cell.p50_ms:.2f} | "
            f"{cell.p90_ms:.2f} | {cell.p99_ms:.2f} |"
        )
    return "\n".join(rows)


def _perf_section(perf: dict[str, PerfCell]) -> list[str]:
    if not perf:
        return []
    return [
        "## Triton's perf_analyzer",
        "",
        "The same servers measured by Triton's own load generator, unmodified (`perf_analyzer",
        "-m <model>` from tritonclient 2.41.1's wheel, installed by `make perf-analyzer`), over",
        "HTTP (JSON header + binary tensors), gRPC, and gRPC streams (`--streaming`, one stream",
        "per client; a server without them has no row) at concurrency 1 and 16: three count",
        "windows per cell after the wrk rounds, figures from its CSV report (client side).",
        "",
        perf_table(perf),
        "",
    ]


def render(
    results: Results,
    failures: dict[str, str],
    seconds: float,
    rounds: int,
    profile: Path,
    perf: dict[str, PerfCell] | None = None,
) -> str:
    """The whole docs/benchmarks.md."""
    load = os.getloadavg()
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/run.py). Every server answers V2 JSON infer requests",
        "on 127.0.0.1 for the same scikit-learn LogisticRegression (16 features, 3 classes): ours",
        "runs its ONNX export (skl2onnx), the peers run the pickled model natively. One request is",
        "one row. The load generator is `wrk` (one thread, a Lua POST script). All servers are",
        "started together and loaded one at a time after a 2 s warm-up each; the cells are run in",
        f"{rounds} interleaved rounds of {seconds:g} s, and each figure is the median over the rounds,",
        "so that changes in background load hit every server alike. Peers run with their default",
        "worker settings; batching means each server's own dynamic batcher (KServe's Python server",
        "has none; MLServer: `max_batch_size 32`, `max_batch_time 0.5 ms`; PyTriton: Triton's",
        "dynamic batcher, `max_batch_size 32`). Ours: `--max-batch-size 32 --max-queue-delay-us 0`",
        "(one model instance); the 2-worker row adds `--workers 2`. For the batching targets each",
        "server is represented by its best configuration in the run (ours: 1 or 2 workers; a peer:",
        "with or without its batcher); the other targets use our single-worker rows.",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()};",
        f"load average at the end of the run {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. The",
        "machine is shared with other work, so absolute figures are noisy; compare within a run.",
        "`server CPU ms/request` is the CPU time of all the server's processes during a cell over",
        "the requests answered: it depends much less on background load than requests/s does,",
        "and on a dedicated machine throughput is bounded by cores / CPU per request.",
        "",
        table(results),
        "",
        "![requests per second](benchmarks.png)",
        "",
        "## Targets",
        "",
        *verdicts(results),
        "",
        *_perf_section(perf or {}),
    ]
    if failures:
        lines += ["## Servers that did not run", ""]
        lines += [f"- {label}: {reason}" for label, reason in failures.items()]
        lines.append("")
    lines += [
        "## What limits our server",
        "",
        "Measured with py-spy while developing (and re-sampled by every run, below): the model is",
        "not the limit. At 16 clients with batching, onnxruntime's `Session.run` is a few per cent",
        "of the samples; the event-loop thread spends its time on HTTP: parsing and response",
        "writes (each a syscall that also wakes the client on loopback), JSON parsing of the",
        "request and encoding of the response. That thread holds the GIL, so one worker uses at",
        "most about one core; on this 2-core machine the load generator and other work take the",
        "rest. Before batching each request also paid a hand-off to the model thread and back (a",
        "thread-pool submit and a GIL hand-over), which batching amortises over the batch. What",
        "was done about it: one socket write per response instead of two, metric children looked",
        "up once per model, `--workers N` to put a second event loop on the second core, and the",
        "lean HTTP edge (`modelplane/edge/h1server.py`) in place of uvicorn and its ASGI cycle.",
        "What is left is per-request Python work in the HTTP layer and the data plane.",
        "",
    ]
    lines += _profile_section(profile)
    return "\n".join(lines)
