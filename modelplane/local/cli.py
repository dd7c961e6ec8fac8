"""`modelplane run -f FILE...`: serve InferenceService/InferenceGraph YAML as local processes."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError

from modelplane.api import AnyResource, ServingRuntime, load_resources
from modelplane.local.example import curl, example_request
from modelplane.local.plan import Endpoint, Layout, Plan, PlanError, build_plan
from modelplane.local.processes import ProcessFailed, Supervisor
from modelplane.operator.config import OperatorConfig, load_config

# The default ClusterServingRuntimes of a source checkout (manifests/runtimes/).
REPO_RUNTIMES = Path(__file__).resolve().parents[2] / "manifests" / "runtimes"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def parser() -> argparse.ArgumentParser:
    """The `modelplane run` argument parser."""
    p = argparse.ArgumentParser(
        prog="modelplane run",
        description="Run InferenceServices and InferenceGraphs as local processes on 127.0.0.1, "
        "rendered by the operator's own functions. Ctrl-C stops everything.",
    )
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML file or directory of InferenceService, InferenceGraph and "
        "(Cluster)ServingRuntime objects (repeatable)",
    )
    p.add_argument(
        "--pvc",
        action="append",
        default=[],
        metavar="CLAIM=DIR",
        help="local directory standing in for a PersistentVolumeClaim (pvc://CLAIM/...)",
    )
    p.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="INSIDE=LOCAL",
        help="local path standing in for a path inside a container (e.g. /opt/transformer=./t)",
    )
    p.add_argument(
        "--runtimes",
        type=Path,
        default=REPO_RUNTIMES,
        metavar="DIR",
        help="default ClusterServingRuntimes (default: the repository's manifests/runtimes)",
    )
    p.add_argument("--config", type=Path, help="operator settings file (as in the chart)")
    p.add_argument("--workdir", type=Path, help="where downloads and graph files go (temp dir)")
    p.add_argument("--ready-timeout", type=float, default=120.0, metavar="SECONDS")
    return p


def manifest_files(paths: Sequence[str]) -> list[Path]:
    """The given files, and the manifest files in the given directories (sorted)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(
                p
                for p in path.iterdir()
                if p.suffix in MANIFEST_SUFFIXES and not p.name.startswith("kustomization")
            )
        else:
            files.append(path)
    return files


def pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    """`A=B` arguments as a mapping, B made absolute."""
    out: dict[str, str] = {}
    for value in values:
        key, eq, path = value.partition("=")
        if not eq or not key or not path:
            raise PlanError(f"{flag} expects NAME=PATH, got {value!r}")
        out[key] = str(Path(path).resolve())
    return out


def free_ports() -> Iterator[int]:
    """Distinct free TCP ports on 127.0.0.1."""
    seen: set[int] = set()
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in seen:
            seen.add(port)
            yield port


def load(files: Sequence[Path]) -> list[AnyResource]:
    """Every custom resource in the files."""
    resources: list[AnyResource] = []
    for path in files:
        try:
            resources += load_resources(path)
        except (ValidationError, ValueError) as exc:  # which file, then what is wrong
            raise PlanError(f"{path}: {exc}") from exc
    return resources


def default_runtimes(directory: Path) -> list[ServingRuntime]:
    """The runtimes in a directory, or none when it does not exist."""
    if not directory.is_dir():
        return []
    return [r for r in load(manifest_files([str(directory)])) if isinstance(r, ServingRuntime)]


def _metadata(url: str, model: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/v2/models/{model}", timeout=5) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def banner(endpoints: Sequence[Endpoint]) -> str:
    """What is ready, where, and a curl command for each endpoint."""
    lines = ["", "modelplane run: ready", ""]
    for endpoint in endpoints:
        lines.append(f"  {endpoint.kind} {endpoint.name}: {endpoint.url}")
        body: dict[str, Any] | None = None
        if endpoint.model and endpoint.model_url:
            try:
                body = example_request(_metadata(endpoint.model_url, endpoint.model))
            except (OSError, ValueError):
                body = None
        if body:
            lines.append(f"    {curl(endpoint.infer_url, body)}")
        else:
            lines.append(f"    POST a V2 request to {endpoint.infer_url}")
        if endpoint.grpc:
            lines.append(f"    grpc: {endpoint.grpc}")
        lines.append("")
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines) + "\n"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # The first Ctrl-C or SIGTERM stops everything; later ones must not cut the cleanup short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def serve(plan: Plan, supervisor: Supervisor, ready_timeout: float) -> int:
    """Start the planned processes, print where they are, run until interrupted."""
    for warning in plan.warnings:
        supervisor.log("modelplane run", f"warning: {warning}")
    models = [p for p in plan.processes if not p.name.endswith("-router")]
    routers = [p for p in plan.processes if p.name.endswith("-router")]
    for group in (models, routers):
        for process in group:
            for setup in process.setup:
                supervisor.run_setup(process.name, setup, timeout=ready_timeout)
        started = [supervisor.start(p) for p in group]
        supervisor.wait_ready(started, ready_timeout)
    sys.stdout.write(banner(plan.endpoints))
    sys.stdout.flush()
    idle = threading.Event()
    while not idle.wait(0.5):
        gone = supervisor.exited()
        if gone:
            for running in gone:
                supervisor.log(
                    "modelplane run", f"{running.spec.name} exited ({running.popen.returncode})"
                )
            return 1
    return 0


def main(argv: Sequence[str]) -> int:
    """Entry point of `modelplane run`."""
    args = parser().parse_args(list(argv))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modelplane-run-"))
    try:
        config: OperatorConfig = load_config(args.config)
        layout = Layout(
            python=sys.executable,
            workdir=str(workdir.resolve()),
            claims=pairs(args.pvc, "--pvc"),
            paths=pairs(args.path, "--path"),
        )
        plan = build_plan(
            load(manifest_files(args.filename)),
            default_runtimes(args.runtimes),
            config,
            free_ports(),
            layout,
        )
    except (PlanError, ValidationError, OSError, ValueError) as exc:
        print(f"modelplane run: {exc}", file=sys.stderr)
        return 2
    workdir.mkdir(parents=True, exist_ok=True)  # servers leave termination messages there
    for path, text in plan.files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    supervisor = Supervisor(sys.stdout)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return serve(plan, supervisor, args.ready_timeout)
    except KeyboardInterrupt:
        supervisor.log("modelplane run", "stopping")
        return 0
    except (ProcessFailed, subprocess.SubprocessError) as exc:
        supervisor.log("modelplane run", f"error: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
