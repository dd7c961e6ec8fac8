"""End-to-end, cluster: the chart installed with helm, the operator run as its image runs it, every
sample applied with kubectl becomes Ready.

The operator runs as a local process with exactly the image's command (docker/operator.Dockerfile
ENTRYPOINT) and the arguments and settings of the chart's Deployment and ConfigMap, under a token
of the chart's ServiceAccount, so the chart's RBAC is what it works with. It watches only the
samples' namespace (the chart's namespaced mode). Pods are simulated by kwok.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from modelplane.api import load_resources
from modelplane.local.argv import map_paths, set_flag
from tests.support.cluster import Cluster, create_namespace
from tests.support.fake_nodes import GPU_NODE
from tests.support.ports import free_port
from tests.support.sample_storage import sample_storage
from tests.unit.ship.rendered import CHART
from tools.images.dockerfile import load

pytestmark = pytest.mark.cluster

SAMPLES = Path(__file__).resolve().parents[1] / "manifests" / "samples"
RELEASE = "e2e"
OPERATOR = f"{RELEASE}-modelplane-operator"
DOMAIN = "models.example.com"
# Pods are kwok's, but a dozen Deployments still take a while on a busy two-core machine.
READY_TIMEOUT = 300.0


@dataclass(frozen=True)
class Installed:
    system: str  # the release's namespace
    samples: str  # the namespace the operator watches


@pytest.fixture(scope="module")
def installed(k8s_cluster: Cluster) -> Installed:
    # A MIG node says how its GPUs are sliced (NVIDIA's feature discovery labels it so);
    # the MIG sample selects on that label.
    k8s_cluster.kubectl("label", "node", GPU_NODE, "nvidia.com/mig.strategy=mixed", "--overwrite")
    samples = create_namespace(k8s_cluster, "e2e-samples")
    k8s_cluster.kubectl("apply", "-f", "-", input=json.dumps(sample_storage(samples)))
    system = create_namespace(k8s_cluster, "e2e-system")
    k8s_cluster.helm(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        system,
        # Other tests may have installed the CRDs and runtimes with kubectl already.
        "--take-ownership",
        "--force-conflicts",
        "--set",
        f"operator.watchNamespaces={{{samples}}}",
        "--set",
        f"config.ingressDomain={DOMAIN}",
        "--set",
        "config.ingressClass=nginx",
        "--wait",
        "--timeout",
        "180s",
    )
    return Installed(system, samples)


def operator_command(k8s_cluster: Cluster, installed: Installed, home: Path) -> list[str]:
    """The operator image's command with the chart's arguments, moved onto this machine."""
    deployment = json.loads(
        k8s_cluster.kubectl(
            "get", "deployment", OPERATOR, "-n", installed.system, "-o", "json"
        ).stdout
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    configmap = json.loads(
        k8s_cluster.kubectl(
            "get", "configmap", f"{OPERATOR}-config", "-n", installed.system, "-o", "json"
        ).stdout
    )
    (home / "config.yaml").write_text(configmap["data"]["config.yaml"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")["mountPath"]
    entrypoint = load("operator").entrypoint
    assert entrypoint == ["modelplane", "operator"] and "command" not in container
    argv = [sys.executable, "-m", "modelplane", *entrypoint[1:], *container["args"]]
    argv = map_paths(argv, {mount: str(home)})
    port = free_port()
    return set_flag(argv, "--liveness", f"http://127.0.0.1:{port}/healthz")


def service_account_kubeconfig(k8s_cluster: Cluster, installed: Installed, path: Path) -> Path:
    """A kubeconfig that authenticates as the chart's ServiceAccount."""
    token = k8s_cluster.kubectl(
        "create", "token", OPERATOR, "-n", installed.system, "--duration=1h"
    ).stdout.strip()
    config = yaml.safe_load(Path(k8s_cluster.kubeconfig).read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def operator_log(
    k8s_cluster: Cluster, installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("operator")
    argv = operator_command(k8s_cluster, installed, home)
    env = dict(k8s_cluster.env)
    env["KUBECONFIG"] = str(service_account_kubeconfig(k8s_cluster, installed, home / "kubeconfig"))
    log_path = home / "operator.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            liveness = next(a for a in argv if a.startswith("--liveness=")).split("=", 1)[1]
            deadline = time.monotonic() + 60
            while not healthy(liveness):
                assert proc.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "operator liveness never answered"
                time.sleep(0.3)
            yield log_path
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def samples() -> list[tuple[str, str]]:
    """(kind, name) of every sample resource."""
    return [
        (r.KIND, r.metadata.name or "")
        for path in sorted(SAMPLES.glob("*.yaml"))
        for r in load_resources(path)
    ]


def not_ready(k8s_cluster: Cluster, namespace: str) -> dict[str, str]:
    """name -> Ready condition message of every InferenceService/Graph not Ready yet."""
    listed = json.loads(
        k8s_cluster.kubectl("get", "isvc,ig", "-n", namespace, "-o", "json").stdout
    )["items"]
    found = {item["metadata"]["name"]: item for item in listed}
    out: dict[str, str] = {}
    for _, name in samples():
        conditions = (found.get(name, {}).get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        if ready is None or ready.get("status") != "True":
            out[name] = (ready or {}).get("message", "no Ready condition yet")
    return out


@pytest.mark.timeout(420)
def test_every_sample_becomes_ready_under_the_charts_operator(
    k8s_cluster: Cluster, installed: Installed, operator_log: Path
) -> None:
    k8s_cluster.kubectl("apply", "-n", installed.samples, "-f", str(SAMPLES))
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = not_ready(k8s_cluster, installed.samples)
    started = time.monotonic()
    while waiting and time.monotonic() < deadline:
        time.sleep(2)
        waiting = not_ready(k8s_cluster, installed.samples)
    log = operator_log.read_text()
    assert not waiting, (
        f"not Ready after {READY_TIMEOUT:.0f}s: {waiting}\noperator log:\n{log[-3000:]}"
    )
    assert "forbidden" not in log.lower(), log[-4000:]
    print(f"every sample Ready {time.monotonic() - started:.1f}s after kubectl apply")


def test_ready_samples_have_ingress_hosts_on_the_configured_domain(
    k8s_cluster: Cluster, installed: Installed, operator_log: Path
) -> None:
    ingresses = json.loads(
        k8s_cluster.kubectl("get", "ingress", "-n", installed.samples, "-o", "json").stdout
    )["items"]
    hosts = {rule["host"] for ing in ingresses for rule in ing["spec"]["rules"]}
    for _, name in samples():
        assert f"{name}-{installed.samples}.{DOMAIN}" in hosts
    assert {ing["spec"].get("ingressClassName") for ing in ingresses} == {"nginx"}
