"""How each benchmarked server is prepared, started and recognised as ready."""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.model import INPUT_NAME, MODEL_NAME, sample_row

REPO_ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
MAX_BATCH = 32


@dataclass(frozen=True)
class Server:
    """One server configuration: its command, ports and the body it is sent."""

    name: str
    batching: bool
    command: list[str]
    http_port: int
    body: dict[str, object]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    workers: int = 1
    grpc_port: int | None = None  # set for servers that perf_analyzer also measures

    @property
    def label(self) -> str:
        mode = "batching" if self.batching else "no batching"
        return f"{self.name} ({mode}{f', {self.workers} workers' if self.workers > 1 else ''})"

    @property
    def slug(self) -> str:
        return f"{self.name}-{'batch' if self.batching else 'nobatch'}-w{self.workers}"

    @property
    def infer_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v2/models/{MODEL_NAME}/infer"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v2/models/{MODEL_NAME}/ready"


def bench_dir() -> Path:
    """Where peer venvs, tools and run outputs live (outside the repository)."""
    cache = os.environ.get("MODELPLANE_CACHE") or str(Path.home() / ".cache" / "modelplane")
    return Path(cache) / "bench"


def free_port() -> int:
    """A currently unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def v2_body(output: str | None) -> dict[str, object]:
    """A one-row V2 JSON infer request, optionally asking for one output."""
    row = sample_row()
    body: dict[str, object] = {
        "inputs": [{"name": INPUT_NAME, "shape": [1, len(row)], "datatype": "FP32", "data": row}]
    }
    if output is not None:
        body["outputs"] = [{"name": output}]
    return body


def modelplane(work: Path, onnx: Path, batching: bool, workers: int = 1) -> Server:
    """Our server on the ONNX export, with dynamic batching on or off."""
    repo = work / "modelplane" / MODEL_NAME
    repo.mkdir(parents=True, exist_ok=True)
    target = repo / "model.onnx"
    if not target.exists():
        target.symlink_to(onnx)
    port, grpc_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "modelplane", "serve",
        "--model-repository", str(repo.parent),
        "--host", "127.0.0.1",
        "--http-port", str(port),
        "--grpc-port", str(grpc_port),
        "--log-level", "warning",
    ]  # fmt: skip
    if batching:
        command += ["--max-batch-size", str(MAX_BATCH), "--max-queue-delay-us", "0"]
    if workers > 1:
        command += ["--workers", str(workers)]
    env = {"PYTHONPATH": str(REPO_ROOT)}
    body = v2_body("probabilities")
    return Server(
        "modelplane", batching, command, port, body, env, workers=workers, grpc_port=grpc_port
    )


def kserve(bench: Path, pkl: Path) -> Server:
    """KServe's Python ModelServer with a small custom Model (it has no dynamic batcher)."""
    port = free_port()
    command = [
        str(bench / "kserve" / "bin" / "python"), str(PEERS / "kserve_server.py"),
        "--model", str(pkl), "--http-port", str(port), "--grpc-port", str(free_port()),
    ]  # fmt: skip
    env = {"PYTHONWARNINGS": "ignore"}  # else a FastAPI deprecation warning per request
    return Server("kserve", False, command, port, v2_body(None), env)


def mlserver(bench: Path, work: Path, pkl: Path, batching: bool) -> Server:
    """MLServer with its sklearn runtime; adaptive batching on or off."""
    root = work / f"mlserver-{'batch' if batching else 'nobatch'}"
    (root / MODEL_NAME).mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "host": "127.0.0.1",
        "load_models_at_startup": True,
        # no access-log line per request, as in the other servers
        "logging_settings": {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {"uvicorn.access": {"level": "WARNING"}},
        },
    }
    model: dict[str, object] = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(pkl)},
    }
    if batching:
        model |= {"max_batch_size": MAX_BATCH, "max_batch_time": 0.0005}
    (root / "settings.json").write_text(json.dumps(settings))
    (root / MODEL_NAME / "model-settings.json").write_text(json.dumps(model))
    command = [str(bench / "mlserver" / "bin" / "mlserver"), "start", str(root)]
    env = {"PATH": f"{bench / 'mlserver' / 'bin'}:{os.environ.get('PATH', '')}"}
    return Server("mlserver", batching, command, port, v2_body("predict_proba"), env, root)


def pytriton(bench: Path, pkl: Path, batching: bool) -> Server:
    """PyTriton (a Triton binary with a Python model); Triton's dynamic batcher on or off."""
    port = free_port()
    command = [
        str(bench / "pytriton" / "bin" / "python"), str(PEERS / "pytriton_server.py"),
        "--model", str(pkl), "--http-port", str(port), "--grpc-port", str(free_port()),
        "--metrics-port", str(free_port()), "--max-batch-size", str(MAX_BATCH if batching else 0),
    ]  # fmt: skip
    return Server("pytriton", batching, command, port, v2_body("probabilities"))
