"""The real-pod cluster's handle and where its parts live (shared by the node's modules).

`RealCluster` is what tests get from the `real_cluster` fixture: its control plane, the node's
processes, the ingress address, kubectl/helm/crictl, and what the egress check found.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import controlplane, node_plan
from tests.support.controlplane import ControlPlane
from tests.support.node_plan import NodePaths

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_FILE = "node.json"


class NodeError(RuntimeError):
    """The node could not start (the message says which part and its log tail)."""


def node_bin_dir() -> Path:
    """Where `tools/node/build.sh` puts CoreDNS, Traefik, metrics-server, Prometheus,
    prometheus-adapter and crictl."""
    return controlplane.cache_dir() / "node" / "bin"


def gateway_crd_dir() -> Path:
    """The Gateway API CRDs `tools/node/build.sh` copies from the Go module proxy, of the
    version Traefik's wrapper module requires."""
    go_mod = REPO_ROOT / "tools" / "node" / "traefik" / "go.mod"
    version = next(
        line.split()[1]
        for line in go_mod.read_text().splitlines()
        if line.split()[:1] == ["sigs.k8s.io/gateway-api"]
    )
    return controlplane.cache_dir() / "node" / f"gateway-api-{version}"


def containerd_root() -> Path:
    """containerd's content store, kept between clusters so images are imported once."""
    return controlplane.cache_dir() / "node" / "containerd"


@dataclass
class RealCluster:
    """A running real-pod cluster: its control plane, node processes and where to reach it."""

    cp: ControlPlane
    paths: NodePaths
    node_bin: Path
    pids: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    egress: dict[str, Any] = field(default_factory=dict)  # what the pre-pod check found
    images: dict[str, str] = field(default_factory=dict)  # short name -> containerd ref
    baseline: list[tuple[str, str, str]] = field(default_factory=list)  # iptables chains before

    ingress = f"http://{node_plan.INGRESS_IP}:{node_plan.INGRESS_PORT}"
    ingress_class = node_plan.INGRESS_CLASS
    # The Gateway's listener is Traefik's port 80 too: Ingresses and HTTPRoutes share it.
    gateway = f"{node_plan.GATEWAY_NAMESPACE}/{node_plan.GATEWAY_NAME}"
    gateway_url = f"http://{node_plan.INGRESS_IP}:{node_plan.INGRESS_PORT}"
    storage_ip = node_plan.STORAGE_IP

    @property
    def kubeconfig(self) -> Path:
        return self.cp.kubeconfig

    @property
    def env(self) -> dict[str, str]:
        return self.cp.env

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl(*args, input=input, check=check, timeout=timeout)

    def helm(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.helm(*args, input=input, check=check, timeout=timeout)

    def crictl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [
            str(self.node_bin / "crictl"),
            f"--runtime-endpoint=unix://{self.paths.containerd_socket}",
            f"--image-endpoint=unix://{self.paths.containerd_socket}",
            "--timeout=20s",
            *args,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise NodeError(f"{' '.join(argv)}: {result.stderr.strip()}")
        return result

    def exports(self) -> str:
        """The shell lines `make cluster-up REAL=1` prints."""
        return "\n".join(
            [
                f"export KUBECONFIG={self.kubeconfig}",
                f"export PATH={self.cp.bin_dir}:$PATH",
                f"export MODELPLANE_INGRESS={self.ingress}",
                f"export MODELPLANE_INGRESS_CLASS={self.ingress_class}",
                f"export MODELPLANE_GATEWAY={self.gateway}",
                f"export MODELPLANE_GATEWAY_URL={self.gateway_url}",
            ]
        )

    def save(self) -> None:
        state = {
            "pids": self.pids,
            "node_bin": str(self.node_bin),
            "containerd_root": str(self.paths.containerd_root),
            "egress": self.egress,
            "images": self.images,
            "baseline": self.baseline,
        }
        (self.paths.state / STATE_FILE).write_text(json.dumps(state, indent=2))
