"""Operator latency: from `kubectl apply` to the Deployment existing and to Ready=True.

Runs the operator in-process (kopf's runner) against the real control plane: the one
KUBECONFIG points at, or a private one started from the binaries `make k8s-bin` built.
Prints p50 / p95 / max for 1 and 100 InferenceServices (`--counts` changes that).

    python -m benchmarks.operator_latency [--counts 1,100]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_NODES = 2  # extra fake nodes so that 100 pods (and the samples) always fit
POLL = 0.05  # seconds between looks for small scenarios


@dataclass
class Cluster:
    """Where the benchmark talks to: a kubeconfig and a kubectl binary."""

    kubeconfig: Path
    kubectl_bin: str

    def kubectl(self, *args: str, input: str | None = None) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        done = subprocess.run(
            [self.kubectl_bin, *args],
            input=input,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done.stdout


@contextlib.contextmanager
def control_plane() -> Iterator[Cluster]:
    """The cluster in KUBECONFIG, else a private one (tests/support/controlplane)."""
    if os.environ.get("KUBECONFIG"):
        yield Cluster(Path(os.environ["KUBECONFIG"]), shutil.which("kubectl") or "kubectl")
        return
    from tests.support import controlplane

    bin_dir = controlplane.default_bin_dir()
    missing = controlplane.missing_binaries(bin_dir)
    if missing:
        raise SystemExit(f"no KUBECONFIG and binaries missing ({', '.join(missing)}): make k8s-bin")
    state = Path(tempfile.mkdtemp(prefix="mp-bench-k8s-"))
    started = time.monotonic()
    plane = controlplane.start(state, bin_dir, tied=True)
    print(f"control plane started in {time.monotonic() - started:.1f}s")
    try:
        yield Cluster(plane.kubeconfig, str(bin_dir / "kubectl"))
    finally:
        controlplane.stop(plane)
        shutil.rmtree(state, ignore_errors=True)


def bench_node(name: str) -> dict[str, Any]:
    """A fake node kwok adopts, roomy enough for the benchmark's pods."""
    resources = {"cpu": "64", "memory": "256Gi", "pods": "250"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
        },
        "status": {"capacity": resources, "allocatable": resources},
    }


def isvc(name: str) -> dict[str, Any]:
    """A small ONNX InferenceService (tiny requests so that many fit)."""
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "onnx"},
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                }
            }
        },
    }


def percentiles(values: list[float]) -> str:
    """p50 / p95 / max in seconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):6.2f}s  p95 {p95:6.2f}s  max {ordered[-1]:6.2f}s"


def scenario(cluster: Cluster, kube: Any, count: int, timeout: float) -> list[str]:
    """Apply `count` InferenceServices at once; time Deployment creation and Ready.

    Returns the report lines (printed after the operator stops: kopf's runner captures
    stdout while it runs).
    """
    namespace = f"bench-operator-{count}-{os.getpid() % 10000}"
    cluster.kubectl("create", "namespace", namespace)
    names = [f"m{i:03d}" for i in range(count)]
    documents = {"apiVersion": "v1", "kind": "List", "items": [isvc(n) for n in names]}
    seen_at: dict[str, float] = {}
    deployment_at: dict[str, float] = {}
    ready_at: dict[str, float] = {}
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    start = time.monotonic()
    apply = subprocess.Popen(
        [cluster.kubectl_bin, "apply", "-n", namespace, "-f", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert apply.stdin is not None
    apply.stdin.write(json.dumps(documents))
    apply.stdin.close()
    applied: float | None = None
    deadline = start + timeout
    while (len(ready_at) < count or applied is None) and time.monotonic() < deadline:
        now = time.monotonic() - start
        if applied is None and apply.poll() is not None:
            applied = now
        for item in kube.list("Deployment", namespace, "app.kubernetes.io/managed-by=modelplane"):
            owner = item["metadata"]["labels"].get("serving.modelplane.io/inferenceservice")
            deployment_at.setdefault(owner, now)
        for item in kube.list("InferenceService", namespace):
            name = item["metadata"]["name"]
            seen_at.setdefault(name, now)
            conditions = (item.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                ready_at.setdefault(name, now)
        time.sleep(POLL if count <= 10 else 0.5)  # big lists: poll less, load the server less
    lines = [f"{count} InferenceService(s) (kubectl apply of all took {applied or 0:.2f}s)"]
    for label, times in (
        ("apply -> Deployment exists", deployment_at),
        ("apply -> Ready=True       ", ready_at),
    ):
        if times:
            lines.append(f"  {label}: {percentiles(list(times.values()))}  ({len(times)}/{count})")
    own = [deployment_at[n] - seen_at[n] for n in deployment_at if n in seen_at]
    ready_own = [ready_at[n] - seen_at[n] for n in ready_at if n in seen_at]
    if own:
        lines.append(f"  object stored -> Deployment: {percentiles(own)}")
    if ready_own:
        lines.append(f"  object stored -> Ready=True: {percentiles(ready_own)}")
    if len(ready_at) < count:
        lines.append(f"  NOT all Ready within {timeout:.0f}s")
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,100", help="comma-separated numbers of isvcs")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--lease",
        action="store_true",
        help="elect through a Lease in `default` first, as the chart's operator does",
    )
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",") if c]

    import kopf
    from kopf.testing import KopfRunner

    from modelplane.operator.config import OperatorConfig
    from modelplane.operator.handlers import Operator
    from modelplane.operator.kube import Kube
    from modelplane.operator.leader import LeaseSettings

    with control_plane() as cluster:
        os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
        cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cluster.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-k",
            str(ROOT / "manifests" / "runtimes"),
        )
        nodes = [bench_node(f"kwok-bench-{i}") for i in range(BENCH_NODES)]
        cluster.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}),
        )
        kube = Kube.from_environment()
        lease = LeaseSettings("default", "bench") if args.lease else None
        operator = Operator(OperatorConfig(), lease=lease)
        with KopfRunner(
            ["run", "--standalone", "--all-namespaces", "--quiet"],
            registry=operator.registry(),
            settings=kopf.OperatorSettings(),
            timeout=60,
        ):
            time.sleep(2.0)  # let the watches start; the figures time the reconcile path
            report = [
                line for count in counts for line in scenario(cluster, kube, count, args.timeout)
            ]
        kube.close()
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
