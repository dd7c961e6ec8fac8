"""Launch and stop a one-node Kubernetes cluster that runs real pods (the real-pod tier).

The control plane of `tests.support.controlplane`, bound to a node address, plus a real node:
containerd + runc + CNI bridge, kubelet, kube-proxy, CoreDNS, Traefik, metrics-server,
Prometheus and prometheus-adapter (the chart's adapter rules), all host processes. Images come from archives imported into containerd; nothing is pulled.
The layout is `tests.support.node_plan`; host changes go through `tests.support.node_host`'s
journal so teardown undoes exactly them. One such cluster per machine (host-wide state).

By hand: `python -m tests.support.realnode up|down|status` (`make cluster-up REAL=1`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support import (
    controlplane,
    dns,
    node_addons,
    node_egress,
    node_host,
    node_images,
    node_plan,
)
from tests.support.controlplane import ControlPlane, ControlPlaneError
from tests.support.local_processes import (
    http_json,
    http_ok,
    is_running,
    log_tail,
    spawn,
    stop_recorded,
)
from tests.support.node_cluster import (
    REPO_ROOT,
    STATE_FILE,
    NodeError,
    RealCluster,
    containerd_root,
    gateway_crd_dir,
    node_bin_dir,
)
from tests.support.node_images import ImageSource
from tests.support.node_plan import NodePaths
from tests.support.ports import free_port
from tests.support.wait import wait_for

NODE_BINARIES = (
    "coredns", "traefik", "metrics-server", "prometheus", "prometheus-adapter", "crictl",
)  # fmt: skip
K8S_NODE_BINARIES = ("kubelet", "kube-proxy")
HOST_TOOLS = ("containerd", "ctr", "runc", "ip", "iptables", "ip6tables", "ss")
# The one running real cluster on this machine (host-wide state allows one).
MACHINE_LOCK = Path("/run/modelplane-realnode.json")
START_TIMEOUT = float(os.environ.get("MODELPLANE_NODE_START_TIMEOUT", "240"))
ADDON_ORDER = (
    "prometheus-adapter", "prometheus", "metrics-server", "traefik", "coredns", "kube-proxy",
    "kubelet", "containerd",
)  # fmt: skip
CHART = REPO_ROOT / "charts" / "modelplane"


def missing_prerequisites(k8s_bin: Path, node_bin: Path) -> list[str]:
    """What this machine lacks to run the real node (empty: it can)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the node changes iptables, bridges and cgroups)")
    missing += [
        f"{name} (make k8s-bin)"
        for name in (*controlplane.BINARIES, *K8S_NODE_BINARIES)
        if name != "kwok" and not os.access(k8s_bin / name, os.X_OK)
    ]
    missing += [
        f"{name} (bash tools/node/build.sh)"
        for name in NODE_BINARIES
        if not os.access(node_bin / name, os.X_OK)
    ]
    missing += [
        f"{tool} (bash tools/node/build.sh --packages)"
        for tool in HOST_TOOLS
        if shutil.which(tool) is None
    ]
    if not (gateway_crd_dir() / ".complete").exists():
        missing.append("the Gateway API CRDs (bash tools/node/build.sh)")
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("CNI plugins in /usr/lib/cni (bash tools/node/build.sh --packages)")
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        missing.append("br_netfilter in the kernel (pods reach Services over the bridge)")
    if node_host.cgroup2_mount() is None:
        missing.append("a cgroup2 mount (for the egress rule)")
    return missing


def _spawn(
    cluster: RealCluster, name: str, argv: list[str], tied: bool, env: dict[str, str] | None = None
) -> None:
    state = cluster.paths.state
    proc = spawn(argv, state / f"{name}.log", state, tied, env, cluster.cp.cgroup)
    cluster.procs[name] = proc
    cluster.pids[name] = proc.pid
    cluster.save()


def _alive_check(cluster: RealCluster) -> None:
    for name, proc in cluster.procs.items():
        code = proc.poll()
        if code is not None:
            tail = log_tail(cluster.paths.state / f"{name}.log")
            raise NodeError(f"{name} exited with {code} during start; log tail:\n{tail}")


def _await(
    cluster: RealCluster, check: Callable[[], Any], what: str, timeout: float = START_TIMEOUT
) -> Any:
    def probe() -> Any:
        _alive_check(cluster)
        return check()

    return wait_for(probe, timeout=timeout, interval=0.2, message=what)


def _kubeconfig_token(kubeconfig: Path) -> str:
    doc = yaml.safe_load(kubeconfig.read_text())
    return str(doc["users"][0]["user"]["token"])


# -- components -------------------------------------------------------------------------------


def _write_node_files(paths: NodePaths) -> None:
    paths.state.mkdir(parents=True, exist_ok=True)
    paths.containerd_root.mkdir(parents=True, exist_ok=True)
    paths.containerd_config.write_text(node_plan.containerd_config(paths))
    for registry in node_plan.REGISTRIES:
        directory = paths.registry_dir / registry
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts.toml").write_text(node_plan.registry_hosts())
    paths.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    (paths.cni_conf_dir / "10-modelplane.conflist").write_text(
        node_plan.dump_json(node_plan.cni_conflist())
    )
    # pods get the cluster DNS only; the host's resolver stays the host's
    paths.resolv_conf.write_text("")


def _start_containerd(cluster: RealCluster, tied: bool) -> None:
    paths = cluster.paths
    _spawn(cluster, "containerd", ["containerd", "--config", str(paths.containerd_config)], tied)
    _await(
        cluster,
        lambda: cluster.crictl("info", check=False).returncode == 0,
        "containerd CRI answering",
        timeout=60,
    )


def _start_node_components(cluster: RealCluster, tied: bool) -> None:
    cp, paths, b = cluster.cp, cluster.paths, cluster.cp.bin_dir
    state = paths.state
    kubelet_kubeconfig = state / "kubelet.kubeconfig"
    paths.kubelet_config.write_text(
        node_plan.dump_yaml(node_plan.kubelet_config(paths, free_port()))
    )
    _spawn(cluster, "kubelet", node_plan.kubelet_argv(b, paths, kubelet_kubeconfig), tied)

    proxy_kubeconfig = state / "kube-proxy.kubeconfig"
    paths.kube_proxy_config.write_text(
        node_plan.dump_yaml(node_plan.kube_proxy_config(proxy_kubeconfig, free_port(), free_port()))
    )
    _spawn(cluster, "kube-proxy", node_plan.kube_proxy_argv(b, paths), tied)

    addons_kubeconfig = state / "addons.kubeconfig"
    paths.corefile.write_text(node_addons.corefile(addons_kubeconfig))
    _spawn(cluster, "coredns", node_addons.coredns_argv(cluster.node_bin, paths), tied)

    crds = gateway_crd_dir()
    cp.kubectl("apply", "--server-side", "-f", str(crds))
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds))
    ping_port = free_port()
    token = _kubeconfig_token(addons_kubeconfig)
    ca = state / "pki" / "ca.crt"
    traefik = node_addons.traefik_argv(
        cluster.node_bin, cp.server, token, ca, ping_port, gateway=True
    )
    _spawn(cluster, "traefik", traefik, tied)
    gateway = {"apiVersion": "v1", "kind": "List", "items": node_addons.gateway_objects()}
    cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(gateway))

    metrics_port = free_port()
    cert_dir = state / "metrics-server-certs"
    cert_dir.mkdir(exist_ok=True)
    argv = node_addons.metrics_server_argv(
        cluster.node_bin, addons_kubeconfig, cert_dir, metrics_port
    )
    _spawn(cluster, "metrics-server", argv, tied)
    objects = {
        "apiVersion": "v1",
        "kind": "List",
        "items": node_addons.cluster_objects(metrics_port),
    }
    cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(objects))
    _start_custom_metrics(cluster, addons_kubeconfig, tied)

    _await(cluster, lambda: _node_ready(cp), f"node {node_plan.NODE_NAME} Ready")
    _await(cluster, node_egress.kube_proxy_synced, "kube-proxy's iptables rules")
    node_egress.pin_egress_first(cluster)
    _await(cluster, lambda: http_ok(f"http://127.0.0.1:{ping_port}/ping"), "traefik /ping")
    _await(cluster, lambda: _dns_answers(), "CoreDNS answering kubernetes.default")


def adapter_rules(cp: ControlPlane) -> str:
    """The chart's prometheus-adapter rules (monitoring.adapterRules), with the node's
    window: the adapter runs what a user of the chart would give it."""
    rendered = cp.helm(
        "template", "modelplane", str(CHART), "--show-only", "templates/adapter-rules.yaml",
        "--set", "monitoring.adapterRules.enabled=true",
        "--set", f"monitoring.adapterRules.window={node_addons.RATE_WINDOW}",
    ).stdout  # fmt: skip
    return str(yaml.safe_load(rendered)["data"]["config.yaml"])


def _start_custom_metrics(cluster: RealCluster, kubeconfig: Path, tied: bool) -> None:
    """Prometheus scraping the operator's pods, and prometheus-adapter serving
    `custom.metrics.k8s.io` from it with the chart's rules (the HPAs' rps and concurrency)."""
    cp, state = cluster.cp, cluster.paths.state
    config = state / "prometheus.yml"
    config.write_text(node_plan.dump_yaml(node_addons.prometheus_config(kubeconfig)))
    prometheus_port = free_port()
    argv = node_addons.prometheus_argv(
        cluster.node_bin, config, state / "prometheus-data", prometheus_port
    )
    _spawn(cluster, "prometheus", argv, tied)
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    _await(cluster, lambda: http_ok(f"{prometheus}/-/ready"), "prometheus ready")

    rules = state / "adapter-rules.yaml"
    rules.write_text(adapter_rules(cp))
    cert_dir = state / "prometheus-adapter-certs"
    cert_dir.mkdir(exist_ok=True)
    adapter_port = free_port()
    argv = node_addons.adapter_argv(
        cluster.node_bin, kubeconfig, cert_dir, adapter_port, prometheus, rules
    )
    _spawn(cluster, "prometheus-adapter", argv, tied)
    objects = {
        "apiVersion": "v1",
        "kind": "List",
        "items": node_addons.custom_metrics_objects(adapter_port),
    }
    cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(objects))


def _node_ready(cp: ControlPlane) -> bool:
    context = ssl.create_default_context(cafile=str(cp.state_dir / "pki" / "ca.crt"))
    status, node = http_json(
        f"{cp.server}/api/v1/nodes/{node_plan.NODE_NAME}", context, cp.admin_token
    )
    if status != 200:
        return False
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _dns_answers() -> bool:
    """CoreDNS resolves the API server's Service name (asked directly on its address)."""
    return dns.resolve_a(
        node_plan.DNS_IP, f"kubernetes.default.svc.{node_plan.CLUSTER_DOMAIN}"
    ) == [controlplane.k8s_components.SERVICE_IP]


# -- start and stop ---------------------------------------------------------------------------


def start(
    state_dir: Path,
    images: Mapping[str, ImageSource],
    bin_dir: Path | None = None,
    tied: bool = True,
) -> RealCluster:
    """Bring up the whole cluster in `state_dir`; on any failure everything is undone."""
    bin_dir = bin_dir or controlplane.default_bin_dir()
    node_bin = node_bin_dir()
    missing = missing_prerequisites(bin_dir, node_bin)
    if missing:
        raise NodeError("cannot run the real node: missing " + "; ".join(missing))
    _claim_machine(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    mount = node_host.cgroup2_mount()
    assert mount is not None
    paths = NodePaths(state=state_dir, containerd_root=containerd_root())
    cp = ControlPlane(
        state_dir=state_dir,
        bin_dir=bin_dir,
        address=node_plan.NODE_IP,
        cgroup=mount / node_plan.CGROUP,
        fake_nodes=False,
    )
    cluster = RealCluster(cp=cp, paths=paths, node_bin=node_bin)
    journal = node_host.Journal(state_dir / "host-changes.json")
    try:
        cluster.baseline = node_host.iptables_chains()
        cluster.save()
        journal.iptables_baseline()
        node_egress.prepare_host(journal, mount / node_plan.CGROUP)
        _write_node_files(paths)
        journal.cgroup_tree(node_plan.KUBELET_CGROUP_ROOT)
        journal.command([str(bin_dir / "kube-proxy"), "--cleanup"])
        journal.directory(Path("/var/lib/cni"))
        journal.record(kind="dir", path=f"/var/lib/cni/networks/{node_plan.CNI_NETWORK}")
        journal.directory(Path("/var/log/pods"))
        journal.directory(Path("/var/log/containers"))
        journal.directory(Path("/var/lib/kubelet"))
        journal.directory(Path("/run/containerd"))
        journal.netns()
        journal.mounts(paths.containerd_root)
        journal.mounts(paths.containerd_state)
        journal.mounts(paths.kubelet_root)
        journal.mounts(Path("/run/containerd"))
        _start_containerd(cluster, tied)
        paths.corefile.write_text(node_addons.corefile(state_dir / "addons.kubeconfig"))
        cluster.egress = node_egress.verify_egress(cluster)  # before any pod, before any image
        cluster.save()
        node_images.import_images(cluster, images)
        started = controlplane.start(
            state_dir, bin_dir, tied, node_plan.NODE_IP, fake_nodes=False, cgroup=cp.cgroup
        )
        cluster.cp = started
        _start_node_components(cluster, tied)
        cluster.save()
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _claim_machine(state_dir: Path) -> None:
    """Record this cluster as the machine's one real cluster; refuse a second one."""
    if MACHINE_LOCK.exists():
        other = Path(json.loads(MACHINE_LOCK.read_text())["state_dir"])
        if other != state_dir and (other / "host-changes.json").exists():
            loaded = load(other)
            if loaded is not None and any(is_running(pid, other) for pid in loaded.pids.values()):
                raise NodeError(f"a real cluster already runs on this machine ({other})")
            if loaded is not None:
                stop(loaded)  # a crashed one: undo what it left
    MACHINE_LOCK.write_text(json.dumps({"state_dir": str(state_dir), "pid": os.getpid()}))


def _remove_pods(cluster: RealCluster) -> None:
    """Stop and remove every pod sandbox (their netns, mounts and CNI addresses go too)."""
    if not cluster.paths.containerd_socket.exists():
        return
    pods = cluster.crictl("pods", "-q", check=False).stdout.split()
    for pod in pods:
        cluster.crictl("stopp", pod, check=False)
        cluster.crictl("rmp", "-f", pod, check=False)


def stop(cluster: RealCluster, grace: float = 10.0) -> list[str]:
    """Stop the node (pods first), the control plane, and undo every host change.

    Returns what could not be undone (empty when the host is as it was).
    """
    stop_recorded("kubelet", cluster.pids, cluster.procs, cluster.paths.state, grace)
    with contextlib.suppress(NodeError, subprocess.TimeoutExpired, OSError):
        _remove_pods(cluster)
    for name in ADDON_ORDER:
        stop_recorded(name, cluster.pids, cluster.procs, cluster.paths.state, grace)
    controlplane.stop(cluster.cp, grace)
    problems = node_host.Journal(cluster.paths.state / "host-changes.json").undo()
    if cluster.baseline:
        links = (node_plan.NODE_BRIDGE, node_plan.POD_BRIDGE)
        problems += node_host.leftovers(cluster.baseline, links, cluster.paths.state)
    if MACHINE_LOCK.exists():
        claimed = json.loads(MACHINE_LOCK.read_text())["state_dir"]
        if claimed == str(cluster.paths.state):
            MACHINE_LOCK.unlink()
    return problems


def load(state_dir: Path) -> RealCluster | None:
    """The real cluster recorded in `state_dir`, if any."""
    cp = controlplane.load(state_dir)
    node_state = state_dir / STATE_FILE
    if not node_state.exists():
        if cp is None:
            cp = ControlPlane(state_dir=state_dir, bin_dir=controlplane.default_bin_dir())
        return RealCluster(
            cp=cp, paths=NodePaths(state_dir, containerd_root()), node_bin=node_bin_dir()
        )
    state = json.loads(node_state.read_text())
    if cp is None:
        cp = ControlPlane(state_dir=state_dir, bin_dir=controlplane.default_bin_dir())
    mount = node_host.cgroup2_mount()
    if mount is not None:
        cp.cgroup = mount / node_plan.CGROUP
    return RealCluster(
        cp=cp,
        paths=NodePaths(state_dir, Path(state["containerd_root"])),
        node_bin=Path(state["node_bin"]),
        pids={k: int(v) for k, v in state["pids"].items()},
        egress=state.get("egress", {}),
        images=state.get("images", {}),
        baseline=[tuple(c) for c in state.get("baseline", [])],  # type: ignore[misc]
    )


def manual_state_dir() -> Path:
    return controlplane.cache_dir() / "node" / "cluster-up"


def running_manual_cluster() -> RealCluster | None:
    state_dir = manual_state_dir()
    existing = load(state_dir) if (state_dir / STATE_FILE).exists() else None
    if existing is None:
        return None
    pids = {**existing.pids, **existing.cp.pids}
    if not pids or not all(is_running(p, state_dir) for p in pids.values()):
        return None
    return existing


def main(argv: list[str]) -> int:
    """`up` starts a detached real cluster and prints exports; `down` stops it; `status`."""
    from tools.images import built

    command = argv[0] if argv else "status"
    state_dir = manual_state_dir()
    if command == "up":
        existing = running_manual_cluster()
        if existing is None:
            if (state_dir / "host-changes.json").exists() or (state_dir / STATE_FILE).exists():
                leftover = load(state_dir)
                if leftover is not None:
                    stop(leftover)
            shutil.rmtree(state_dir, ignore_errors=True)
            started = time.monotonic()
            existing = start(state_dir, built(TIER_IMAGES), tied=False)
            print(f"# started in {time.monotonic() - started:.1f}s", file=sys.stderr)
        print(existing.exports())
        return 0
    if command == "down":
        leftover = load(state_dir) if state_dir.exists() else None
        problems = stop(leftover) if leftover is not None else []
        shutil.rmtree(state_dir, ignore_errors=True)
        for problem in problems:
            print(f"not undone: {problem}", file=sys.stderr)
        print("real cluster stopped", file=sys.stderr)
        return 1 if problems else 0
    if command == "status":
        running = running_manual_cluster()
        if running is None:
            print("no real cluster running (make cluster-up REAL=1)")
            return 1
        print(f"running: {running.cp.server}\n{running.exports()}")
        return 0
    print(f"usage: {sys.argv[0]} up|down|status", file=sys.stderr)
    return 2


# The images the tier runs (the CUDA image is never scheduled on this GPU-less node).
TIER_IMAGES = ("pause", "operator", "model-server", "router")

if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (NodeError, ControlPlaneError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
