"""The GPU benchmark: a ResNet-18-sized CNN served by `modelplane serve` against its own batched rate.

    python -m benchmarks.gpu --mode gpu --out DIR [--budget-s 330]
    python -m benchmarks.gpu --mode cpu --out DIR          # the same flow, small, on CPU

Steps, most important first, each skipped (and recorded) when the time budget would not hold it:
1. build the model, export ONNX and TorchScript, load each through the server's own backend
   and measure its batched forward rate (the ceiling);
2. serve each backend with dynamic batching, then without, at each client count;
3. ONNX only when its CUDA provider is present: each CUDA option set, batched at the most clients;
4. `instances: 2` on the one device, batched at the most clients;
5. what runs where: the GPU memory of each server process, and a server whose model asks for
   cuda with CUDA_VISIBLE_DEVICES empty (it must fail to load, saying why).
Writes results.json and results.md (benchmarks.gpu_report) and servers.log under --out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.processes import stop_group

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0
# ONNX CUDA provider option sets measured against each other; "defaults" is CUDA_DEFAULTS.
ONNX_OPTION_SETS: dict[str, dict[str, str | int | bool]] = {
    "defaults": {},
    "heuristic": {"cudnn_conv_algo_search": "HEURISTIC"},
    "io_binding": {"io_binding": True},
    "cuda_graph": {"cuda_graph": True},
    "cuda_graph+heuristic": {"cuda_graph": True, "cudnn_conv_algo_search": "HEURISTIC"},
}


@dataclass(frozen=True)
class Sizes:
    """How big the run is: the model, the client counts, the seconds per cell."""

    image: int
    widths: tuple[int, int, int, int]
    classes: int
    clients: tuple[int, ...]
    max_batch: int
    direct_batches: tuple[int, ...]
    direct_seconds: float
    cell_seconds: float
    warmup_seconds: float
    load_processes: int
    device: str


GPU = Sizes(
    image=224,
    widths=(64, 128, 256, 512),
    classes=1000,
    clients=(1, 16, 64),
    max_batch=64,
    direct_batches=(32, 64),
    direct_seconds=2.5,
    cell_seconds=4.0,
    warmup_seconds=1.0,
    load_processes=4,
    device="cuda",
)
CPU = Sizes(
    image=32,
    widths=(8, 16, 32, 64),
    classes=10,
    clients=(1, 4, 8),
    max_batch=8,
    direct_batches=(4, 8),
    direct_seconds=0.5,
    cell_seconds=1.0,
    warmup_seconds=0.5,
    load_processes=1,
    device="cpu",
)


@dataclass(frozen=True)
class Case:
    """One server configuration and the client counts it is loaded with."""

    backend: str  # onnx | torchscript
    options: str  # a key of ONNX_OPTION_SETS ("defaults" for torchscript)
    batching: bool
    instances: int
    clients: tuple[int, ...]

    @property
    def slug(self) -> str:
        return (
            f"{self.backend}-{self.options.replace('+', '-')}-"
            f"{'batch' if self.batching else 'nobatch'}-i{self.instances}"
        )


@dataclass
class Budget:
    """A deadline on the monotonic clock; steps that would not fit are skipped and recorded."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)


def plan(sizes: Sizes, onnx_served: bool) -> list[Case]:
    """The server cases in order of importance (pure)."""
    most = (max(sizes.clients),)
    backends = (["onnx"] if onnx_served else []) + ["torchscript"]
    cases = [Case(b, "defaults", True, 1, sizes.clients) for b in backends]
    cases += [Case(b, "defaults", False, 1, sizes.clients) for b in backends]
    if onnx_served and sizes.device == "cuda":
        cases += [
            Case("onnx", name, True, 1, most) for name in ONNX_OPTION_SETS if name != "defaults"
        ]
    cases += [Case(b, "defaults", True, 2, most) for b in backends]
    return cases


def case_seconds(case: Case, sizes: Sizes) -> float:
    """An estimate of one case's wall time: server start (torch and CUDA initialised, the model
    loaded) plus its cells (warm-up, measured window, the load processes' start)."""
    start = 15.0 if sizes.device == "cuda" else 8.0
    return start + len(case.clients) * (sizes.cell_seconds + sizes.warmup_seconds + 1.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["gpu", "cpu"], required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget-s", type=float, default=330.0)
    parser.add_argument("--clients", type=int, nargs="*", help="override the client counts")
    parser.add_argument("--cell-seconds", type=float, help="override the seconds per cell")
    parser.add_argument("--cases", type=int, help="serve only the first N cases of the plan")
    args = parser.parse_args(argv)
    sizes = GPU if args.mode == "gpu" else CPU
    if args.clients:
        sizes = Sizes(**{**asdict(sizes), "clients": tuple(args.clients)})
    if args.cell_seconds:
        sizes = Sizes(**{**asdict(sizes), "cell_seconds": args.cell_seconds})
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args.mode, sizes, args.out, Budget(args.budget_s), args.cases)
    return 0 if results["served"] else 1


def run(
    mode: str, sizes: Sizes, out: Path, budget: Budget, max_cases: int | None = None
) -> dict[str, Any]:
    """The whole benchmark; results.json and results.md are rewritten after every step."""
    from benchmarks import gpu_report
    from benchmarks.gpu_model import Shape, export, parameters

    shape = Shape(image=sizes.image, widths=sizes.widths, classes=sizes.classes)
    results: dict[str, Any] = {
        "mode": mode,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": asdict(sizes),
        "environment": environment(),
        "direct": [],
        "served": [],
        "notes": [],
        "skipped": [],
    }

    def save() -> None:
        results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        results["targets"] = gpu_report.targets(results)
        results["best_onnx_options"] = gpu_report.best_onnx_options(results)
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
        (out / "results.md").write_text(gpu_report.markdown(results))

    work = Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    log_path = out / "servers.log"
    try:
        onnx_path, pt_path = export(shape, work / "exported")
        from benchmarks.gpu_model import build

        results["model"] = {
            "description": (
                f"ResNet-18-shaped CNN, widths {list(sizes.widths)}, {sizes.image}x{sizes.image} "
                f"RGB, {sizes.classes} classes, {parameters(build(shape)) / 1e6:.2f} M parameters"
            ),
            "onnx_bytes": onnx_path.stat().st_size,
        }
        if sizes.device == "cuda" and not results["environment"].get("torch_sees"):
            results["notes"].append("torch sees no CUDA device: nothing can run on a GPU here")
        onnx_served = _onnx_serves(sizes, results)
        references = direct_step(sizes, shape, work, onnx_path, pt_path, onnx_served, results)
        save()
        cases = plan(sizes, onnx_served)
        for case in cases[max_cases:] if max_cases is not None else []:
            results["skipped"].append(f"{case.slug}: beyond --cases {max_cases}")
        for case in cases[:max_cases]:
            if budget.left() < case_seconds(case, sizes):
                results["skipped"].append(f"{case.slug}: the time budget would not hold it")
                continue
            source = onnx_path if case.backend == "onnx" else pt_path
            serve_case(case, sizes, shape, work, source, references, log_path, results)
            save()
        if budget.left() > 30:
            results["selection"] = selection_check(sizes, shape, work, pt_path, log_path)
        else:
            results["skipped"].append("what-runs-where check: the time budget would not hold it")
    except Exception as exc:  # recorded with what was measured before it; the log has the trace
        results["notes"].append(f"the benchmark stopped: {exc!r}")
        traceback.print_exc()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        save()
    print(gpu_report.markdown(results))
    return results


def environment() -> dict[str, Any]:
    """Machine, GPU, driver and the versions that matter."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)"),
    }
    smi = _nvidia_smi(["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    if smi:
        name, driver, memory = (part.strip() for part in smi.splitlines()[0].split(","))
        env |= {"gpu": f"{name} ({memory})", "driver": driver}
    try:
        import torch

        env |= {
            "torch": torch.__version__,
            "torch_cuda": torch.version.cuda,
            "cudnn": (
                torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
                if torch.cuda.is_available()
                else None
            ),
            "torch_sees": torch.cuda.device_count(),
        }
    except ImportError as exc:
        env["torch"] = f"missing: {exc}"
    try:
        import onnxruntime as ort

        env |= {"onnxruntime": ort.__version__, "ort_providers": ort.get_available_providers()}
    except ImportError as exc:
        env["onnxruntime"] = f"missing: {exc}"
    return env


def _onnx_serves(sizes: Sizes, results: dict[str, Any]) -> bool:
    """Whether ONNX runs on the asked device here; if not, a note says why."""
    providers = results["environment"].get("ort_providers", [])
    if sizes.device == "cpu" or "CUDAExecutionProvider" in providers:
        return True
    results["notes"].append(
        "onnxruntime here has no CUDAExecutionProvider (the image's onnxruntime is the CPU "
        "build; onnxruntime-gpu did not travel): ONNX on CUDA and its provider options were "
        "NOT measured (torch on CUDA is measured if it ran: see the tables)."
    )
    return False


def direct_step(
    sizes: Sizes,
    shape: Any,
    work: Path,
    onnx_path: Path,
    pt_path: Path,
    onnx_served: bool,
    results: dict[str, Any],
) -> dict[str, Any]:
    """Ceilings for every backend and ONNX option set; returns each backend's reference answer."""
    from benchmarks import gpu_direct
    from benchmarks.gpu_model import model_dir

    probe = gpu_direct.batch_of(shape, 1, seed=7)
    references: dict[str, Any] = {}
    sets = list(ONNX_OPTION_SETS) if sizes.device == "cuda" else ["defaults"]
    jobs = [("onnx", name, onnx_path) for name in sets] if onnx_served else []
    jobs.append(("torchscript", "defaults", pt_path))
    for backend_name, options, source in jobs:
        directory = model_dir(
            work / "direct" / f"{backend_name}-{options}",
            "m",
            source,
            shape,
            sizes.device,
            0,
            1,
            ONNX_OPTION_SETS[options] if backend_name == "onnx" else None,
        )
        try:
            backend = gpu_direct.load_backend(directory)
        except Exception as exc:  # an option set onnxruntime refuses is a result, not a crash
            results["notes"].append(f"direct {backend_name} {options}: did not load: {exc}")
            continue
        try:
            if options == "defaults":
                references[backend_name] = gpu_direct.reference(backend, probe)
            batches = list(sizes.direct_batches)
            for rate in gpu_direct.backend_rates(backend, shape, batches, sizes.direct_seconds):
                results["direct"].append(
                    {"backend": backend_name, "options": options, **asdict(rate)}
                )
            if backend_name == "torchscript":
                for rate in gpu_direct.resident_rates(
                    backend, shape, batches, sizes.direct_seconds
                ):
                    results["direct"].append(
                        {"backend": backend_name, "options": options, "resident": True}
                        | asdict(rate)
                    )
        except Exception as exc:
            results["notes"].append(f"direct {backend_name} {options}: failed: {exc}")
        finally:
            backend.unload()
    references["probe"] = probe
    return references


def serve_case(
    case: Case,
    sizes: Sizes,
    shape: Any,
    work: Path,
    source: Path,
    references: dict[str, Any],
    log_path: Path,
    results: dict[str, Any],
) -> None:
    """Start a server for the case, check one answer, load it at each client count, stop it."""
    from benchmarks.gpu_load import binary_request, run_load
    from benchmarks.gpu_model import INPUT, OUTPUT, model_dir

    parameters = ONNX_OPTION_SETS[case.options] if case.backend == "onnx" else {}
    repo = work / "serve" / case.slug
    model_dir(
        repo,
        "m",
        source,
        shape,
        sizes.device,
        sizes.max_batch if case.batching else 0,
        case.instances,
        parameters or None,
    )
    try:
        with serving(repo, log_path, case.slug, {}) as served:
            if served.state != "READY":
                raise RuntimeError(f"model did not load: {served.reason}")
            url = f"http://127.0.0.1:{served.port}/v2/models/m/infer"
            body, header_bytes = binary_request(INPUT, OUTPUT, references["probe"])
            diff = _check_answer(url, body, header_bytes, references.get(case.backend))
            cells = []
            for clients in case.clients:
                load = run_load(
                    url,
                    body,
                    header_bytes,
                    clients,
                    sizes.cell_seconds,
                    sizes.warmup_seconds,
                    sizes.load_processes,
                )
                cells.append(
                    {
                        "backend": case.backend,
                        "options": case.options,
                        "parameters": parameters,
                        "batching": case.batching,
                        "instances": case.instances,
                        "max_abs_diff": diff,
                    }
                    | asdict(load)
                )
            gpu_mib = _gpu_mib(served.process.pid)  # after the load: what the batches made it hold
            results["served"] += [cell | {"gpu_mib": gpu_mib} for cell in cells]
    except Exception as exc:  # one failing case is a result; the others still run
        results["notes"].append(f"{case.slug}: failed: {exc}")


def _check_answer(url: str, body: bytes, header_bytes: int, reference: Any) -> float:
    """POST the probe once; the served answer must match the backend's own (returns max |diff|)."""
    import httpx
    import numpy as np

    from benchmarks.gpu_load import HEADER, decode_output
    from benchmarks.gpu_model import OUTPUT

    answer = httpx.post(url, content=body, headers={HEADER: str(header_bytes)}, timeout=60.0)
    if answer.status_code != 200:
        raise RuntimeError(f"probe answered {answer.status_code}: {answer.text[:300]}")
    got = decode_output(answer.content, int(answer.headers[HEADER]), OUTPUT)
    if reference is None:
        raise RuntimeError("no direct reference answer to compare with")
    diff = float(np.max(np.abs(got - reference)))
    scale = float(np.max(np.abs(reference))) or 1.0
    if diff > 1e-2 * scale:
        raise RuntimeError(f"served answer differs from the direct one by {diff:g}")
    return diff


@dataclass
class Served:
    """A started server: its port and process, and its model's state once settled."""

    port: int
    process: subprocess.Popen[bytes]
    state: str = ""
    reason: str = ""


@contextlib.contextmanager
def serving(repo: Path, log_path: Path, name: str, env: dict[str, str]) -> Iterator[Served]:
    """`modelplane serve` on the repository in its own process group, until model `m` is READY
    or UNAVAILABLE (bounded); stopped on exit."""
    from benchmarks.servers import free_port

    port = free_port()
    command = [
        sys.executable, "-m", "modelplane", "serve", "--model-repository", str(repo),
        "--host", "127.0.0.1", "--http-port", str(port), "--grpc-port", "-1",
        "--log-level", "warning", "--log-format", "plain",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        log.write(f"\n===== {name} {datetime.now(UTC).isoformat()} =====\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": _pythonpath(), **env},
            start_new_session=True,
        )
    served = Served(port, process)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while served.state not in ("READY", "UNAVAILABLE"):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} (servers.log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"model not settled after {READY_TIMEOUT:g}s")
            time.sleep(0.25)
            served.state, served.reason = _model_state(port)
        yield served
    finally:
        stop_group(process)


def _model_state(port: int) -> tuple[str, str]:
    """Model `m`'s state and reason from the repository index; empty while the server starts."""
    import httpx

    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/v2/repository/index", json={}, timeout=2.0)
    except httpx.HTTPError:
        return "", ""
    for entry in answer.json() if answer.status_code == 200 else []:
        if entry.get("name") == "m":
            return str(entry.get("state", "")), str(entry.get("reason", ""))
    return "", ""


def selection_check(
    sizes: Sizes, shape: Any, work: Path, pt_path: Path, log_path: Path
) -> dict[str, Any]:
    """A model that asks for cuda, served with CUDA_VISIBLE_DEVICES empty: it must not load."""
    from benchmarks.gpu_model import model_dir

    repo = work / "selection"
    model_dir(repo, "m", pt_path, shape, "cuda", 0, 1)
    try:
        with serving(repo, log_path, "selection", {"CUDA_VISIBLE_DEVICES": ""}) as served:
            outcome = f"{served.state}: {served.reason}"
    except Exception as exc:
        outcome = f"check failed: {exc}"
    refused = outcome.startswith("UNAVAILABLE") and "torch sees no CUDA device" in outcome
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)")
    return {
        "cuda_visible_devices_empty": outcome,
        "refused_as_expected": refused,
        "summary": (
            f"a model with device: cuda under CUDA_VISIBLE_DEVICES='' is "
            f"{'refused' if refused else 'NOT refused'} ({outcome[:160]}); this run had "
            f"CUDA_VISIBLE_DEVICES={visible}; each server's GPU memory is the table's GPU MiB "
            "column (nvidia-smi, by process)"
        ),
    }


def _gpu_mib(pid: int) -> int | None:
    """GPU memory used by the process group leader `pid`, per nvidia-smi; None without one."""
    text = _nvidia_smi(["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])
    if text is None:
        return None
    total = 0
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid) and parts[1].isdigit():
            total += int(parts[1])
    return total


def _nvidia_smi(arguments: list[str]) -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        done = subprocess.run(
            ["nvidia-smi", *arguments], capture_output=True, text=True, timeout=20, check=True
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return done.stdout


def _pythonpath() -> str:
    current = os.environ.get("PYTHONPATH", "")
    return f"{current}:{ROOT}" if current else str(ROOT)


if __name__ == "__main__":
    sys.exit(main())
