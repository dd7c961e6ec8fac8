"""The GPU benchmark's results as decisions and a markdown note (pure: a results dict in, text out).

The results dict is what `benchmarks.gpu` writes to results.json: `environment`, `direct`
(ceilings), `served` (load cells), `selection`, `notes`, `skipped`.
"""

from __future__ import annotations

from typing import Any

TARGET = 0.8  # with batching at the most clients: >= 80% of the direct batched rate

Result = dict[str, Any]


def ceiling(results: Result, backend: str, options: str) -> float:
    """The best direct host-batch rate of a backend and option set; 0 when not measured."""
    rates = [
        d["images_per_s"]
        for d in results.get("direct", [])
        if d["backend"] == backend and d["options"] == options and not d.get("resident")
    ]
    return max(rates, default=0.0)


def served_at(
    results: Result, backend: str, options: str, batching: bool, instances: int, clients: int
) -> Result | None:
    """The served cell of that configuration, if it ran."""
    for cell in results.get("served", []):
        if (
            cell["backend"] == backend
            and cell["options"] == options
            and cell["batching"] == batching
            and cell["instances"] == instances
            and cell["clients"] == clients
        ):
            return dict(cell)
    return None


def targets(results: Result) -> list[Result]:
    """Per backend (default options): batched serving at the most clients against its ceiling."""
    clients = max(results["sizes"]["clients"])
    rows = []
    for backend in sorted({d["backend"] for d in results.get("direct", [])}):
        top = ceiling(results, backend, "defaults")
        cell = served_at(results, backend, "defaults", True, 1, clients)
        served = cell["rps"] if cell else 0.0
        ratio = served / top if top and cell else None
        rows.append(
            {
                "backend": backend,
                "clients": clients,
                "served_rps": served,
                "ceiling": top,
                "ratio": ratio,
                "met": ratio is not None and ratio >= TARGET,
            }
        )
    return rows


def best_onnx_options(results: Result) -> Result | None:
    """The ONNX option set with the highest batched served rate at the most clients (CUDA only)."""
    if results["sizes"]["device"] != "cuda":
        return None
    clients = max(results["sizes"]["clients"])
    cells = [
        c
        for c in results.get("served", [])
        if c["backend"] == "onnx" and c["batching"] and c["instances"] == 1
        if c["clients"] == clients and c["errors"] == 0
    ]
    if not cells:
        return None
    best = max(cells, key=lambda c: c["rps"])
    return {
        "options": best["options"],
        "parameters": best["parameters"],
        "served_rps": best["rps"],
        "ceiling": ceiling(results, "onnx", best["options"]),
    }


def markdown(results: Result) -> str:
    """The note: machine and versions, the table of figures against the ceiling, what was skipped."""
    env = results.get("environment", {})
    lines = [
        f"# GPU check ({results['mode']} mode), {results['started']}",
        "",
        f"- device: {env.get('gpu', 'none')}; driver {env.get('driver', '-')}; "
        f"CUDA_VISIBLE_DEVICES={env.get('cuda_visible_devices', '(unset)')}",
        f"- python {env.get('python', '-')}; torch {env.get('torch', '-')} "
        f"(CUDA {env.get('torch_cuda', '-')}, cuDNN {env.get('cudnn', '-')}); "
        f"onnxruntime {env.get('onnxruntime', '-')} ({', '.join(env.get('ort_providers', []))})",
        f"- model: {results.get('model', {}).get('description', 'not built')}",
        "",
        "## Direct batched rate (the ceiling; no server)",
        "",
        "| backend | options | batch | images/s | where the batch starts |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for d in results.get("direct", []):
        where = "on the device" if d.get("resident") else "host numpy"
        lines.append(
            f"| {d['backend']} | {d['options']} | {d['batch']} | {d['images_per_s']:,.0f} | {where} |"
        )
    lines += [
        "",
        "## Served through `modelplane serve` (REST, binary tensors, one image per request)",
        "",
        "| backend | options | batching | instances | clients | requests/s | p50 ms | p99 ms "
        "| errors | of ceiling | GPU MiB |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in results.get("served", []):
        top = ceiling(results, c["backend"], c["options"])
        share = f"{c['rps'] / top:.0%}" if top else "-"
        lines.append(
            f"| {c['backend']} | {c['options']} | {'yes' if c['batching'] else 'no'} "
            f"| {c['instances']} | {c['clients']} | {c['rps']:,.0f} | {c['p50_ms']:.2f} "
            f"| {c['p99_ms']:.2f} | {c['errors']} | {share} | {c.get('gpu_mib') or '-'} |"
        )
    lines += ["", f"## Target: batching at the most clients >= {TARGET:.0%} of the ceiling", ""]
    if not targets(results):
        lines.append("- nothing measured")
    for t in targets(results):
        if t["ratio"] is None:
            lines.append(f"- {t['backend']}: not measured")
            continue
        lines.append(
            f"- {t['backend']}: {t['served_rps']:,.0f} / {t['ceiling']:,.0f} = {t['ratio']:.0%} "
            f"{'MET' if t['met'] else 'NOT MET'}"
        )
    best = best_onnx_options(results)
    lines += ["", "## ONNX CUDA provider options", ""]
    lines.append(
        f"- best set: {best['options']} {best['parameters']} at {best['served_rps']:,.0f} requests/s"
        if best
        else "- not measured (they are CUDA provider options: ONNX did not run on CUDA)"
    )
    selection = results.get("selection")
    if selection:
        lines += ["", "## What runs where", "", f"- {selection['summary']}"]
    for title, key in (("Notes", "notes"), ("Skipped", "skipped")):
        if results.get(key):
            lines += ["", f"## {title}", ""] + [f"- {item}" for item in results[key]]
    return "\n".join(lines) + "\n"
