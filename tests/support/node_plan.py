"""The real test node as data: addresses, config files and command lines (pure, no I/O).

One node, `modelplane-node`, whose components run as host processes:

    bridge mp-node0 (no ports)     10.200.0.1  node IP: kube-apiserver, kubelet, metrics-server
                                   10.200.0.10 CoreDNS (the pods' nameserver, no forwarding)
                                   10.200.0.20 Traefik (Ingress and Gateway API, port 80)
                                   10.200.0.30 the tests' own servers (model storage: S3, HTTP)
    bridge mp-pods0 (CNI bridge)   10.244.0.0/24 pod addresses, gateway 10.244.0.1
    Service IPs                    10.96.0.0/16 (kube-proxy, iptables mode)

Nothing may leave the machine: every registry containerd could pull from is mirrored to a
closed port on 127.0.0.1, the node's processes run in one cgroup whose packets to any
address outside these ranges are rejected, and so are packets the pods send off the pod
bridge (`egress_rules`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.k8s_components import NODE_NAME, SERVICE_CIDR

NODE_BRIDGE = "mp-node0"
POD_BRIDGE = "mp-pods0"
NODE_IP = "10.200.0.1"
DNS_IP = "10.200.0.10"
INGRESS_IP = "10.200.0.20"
STORAGE_IP = "10.200.0.30"
NODE_CIDR = "10.200.0.0/24"
NODE_ADDRESSES = (NODE_IP, DNS_IP, INGRESS_IP, STORAGE_IP)
POD_SUBNET = "10.244.0.0/24"
POD_GATEWAY = "10.244.0.1"
CLUSTER_CIDR = "10.244.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
CNI_NETWORK = "modelplane"
INGRESS_CLASS = "traefik"
GATEWAY_CLASS = "traefik"
GATEWAY_NAMESPACE = "modelplane-gateway"
GATEWAY_NAME = "modelplane"
INGRESS_PORT = 80
CGROUP = "modelplane-node"
KUBELET_CGROUP_ROOT = "modelplane"  # the pods' cgroups, under every hierarchy  # under the cgroup2 mount; every node process runs in it
EGRESS_CHAIN = "MODELPLANE-EGRESS"
# Where every registry is "mirrored": a port on loopback that nothing listens on.
CLOSED_MIRROR = "http://127.0.0.1:1"
REGISTRIES = (
    "_default",
    "docker.io",
    "registry-1.docker.io",
    "registry.k8s.io",
    "k8s.gcr.io",
    "gcr.io",
    "quay.io",
    "ghcr.io",
    "nvcr.io",
    "public.ecr.aws",
    "mcr.microsoft.com",
)
PAUSE_IMAGE = "docker.io/modelplane/pause:3.10"
LOCAL_DESTINATIONS = (NODE_CIDR, CLUSTER_CIDR, SERVICE_CIDR)


@dataclass(frozen=True)
class NodePaths:
    """Where one node keeps its files (a per-cluster state dir, plus the image cache)."""

    state: Path
    containerd_root: Path  # kept between clusters, so imported images stay imported
    cni_bin: Path = Path("/usr/lib/cni")

    @property
    def containerd_state(self) -> Path:
        return self.state / "containerd-state"

    @property
    def containerd_socket(self) -> Path:
        # containerd-shim paths are derived from the socket; keep it short and private
        return self.state / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.state / "containerd.toml"

    @property
    def registry_dir(self) -> Path:
        return self.state / "certs.d"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state / "cni"

    @property
    def kubelet_root(self) -> Path:
        return self.state / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.state / "kubelet.yaml"

    @property
    def kube_proxy_config(self) -> Path:
        return self.state / "kube-proxy.yaml"

    @property
    def resolv_conf(self) -> Path:
        return self.state / "resolv.conf"

    @property
    def corefile(self) -> Path:
        return self.state / "Corefile"


def containerd_config(paths: NodePaths) -> str:
    """containerd 1.6 config: CRI with our pause image, CNI, registry hosts from our dir.

    `restrict_oom_score_adj`: no process here may lower oom_score_adj (runc fails otherwise).
    """
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{paths.containerd_root}"',
            f'state = "{paths.containerd_state}"',
            "[grpc]",
            f'  address = "{paths.containerd_socket}"',
            "[ttrpc]",
            f'  address = "{paths.containerd_socket}.ttrpc"',
            f"[{cri}]",
            f'  sandbox_image = "{PAUSE_IMAGE}"',
            "  restrict_oom_score_adj = true",
            "  enable_selinux = false",
            f"[{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"[{cri}.cni]",
            f'  bin_dir = "{paths.cni_bin}"',
            f'  conf_dir = "{paths.cni_conf_dir}"',
            "  max_conf_num = 1",
            f"[{cri}.registry]",
            f'  config_path = "{paths.registry_dir}"',
            "",
        ]
    )


def registry_hosts() -> str:
    """hosts.toml for one registry: resolve and pull only from the closed local port.

    The explicit [host] table matters: containerd 1.6 ignores a file with only `server`
    ("invalid host tree") and falls back to the public registry.
    """
    return "\n".join(
        [
            f'server = "{CLOSED_MIRROR}"',
            "",
            f'[host."{CLOSED_MIRROR}"]',
            '  capabilities = ["pull", "resolve"]',
            "  skip_verify = true",
            "",
        ]
    )


def cni_conflist() -> dict[str, Any]:
    """The pod network: a bridge with host-local IPAM, no masquerading, loopback."""
    return {
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": POD_BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(paths: NodePaths, healthz_port: int) -> dict[str, Any]:
    """KubeletConfiguration for cgroup v1 (cgroupfs), our DNS, and no eviction surprises.

    Authentication is anonymous with AlwaysAllow: the kubelet listens only on the node
    bridge, and metrics-server and `kubectl logs` reach it without client certificates.
    """
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "authentication": {
            "anonymous": {"enabled": True},
            "webhook": {"enabled": False},
            "x509": {},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{KUBELET_CGROUP_ROOT}",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        "clusterDNS": [DNS_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(paths.resolv_conf),
        "evictionPressureTransitionPeriod": "10s",
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "serializeImagePulls": False,
        "registerNode": True,
        "maxPods": 110,
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,
        "localStorageCapacityIsolation": True,
    }


def kubelet_argv(bin_dir: Path, paths: NodePaths, kubeconfig: Path) -> list[str]:
    """The kubelet for `modelplane-node` at the node IP."""
    return [
        str(bin_dir / "kubelet"),
        f"--config={paths.kubelet_config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={paths.kubelet_root}",
        f"--cert-dir={paths.state / 'kubelet-pki'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
        "--v=1",
    ]


def kube_proxy_config(kubeconfig: Path, metrics_port: int, healthz_port: int) -> dict[str, Any]:
    """kube-proxy in iptables mode, touching no conntrack sysctls, NodePorts on the node IP."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "clusterCIDR": CLUSTER_CIDR,
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"localhostNodePorts": False, "syncPeriod": "10s", "minSyncPeriod": "0s"},
    }


def kube_proxy_argv(bin_dir: Path, paths: NodePaths) -> list[str]:
    return [str(bin_dir / "kube-proxy"), f"--config={paths.kube_proxy_config}", "--v=1"]


def egress_rules(cgroup_path: str) -> list[tuple[str, list[str]]]:
    """(iptables binary, rule args) to append, in order; each is undone by replacing the
    leading `-A`/`-I` with `-D` (the chain itself by `-F` then `-X`).

    - the node's processes (containerd and everything it starts, kubelet, add-ons) may
      send only to loopback and the node, pod and Service ranges;
    - pods may send only to the pod bridge (other pods; the node's addresses are local
      and never forwarded);
    - IPv6: nothing from either.
    """
    chain = EGRESS_CHAIN
    rules: list[tuple[str, list[str]]] = [("iptables", ["-N", chain])]
    rules.append(("iptables", ["-A", chain, "-o", "lo", "-j", "RETURN"]))
    for destination in LOCAL_DESTINATIONS:
        rules.append(("iptables", ["-A", chain, "-d", destination, "-j", "RETURN"]))
    rules.append(
        ("iptables", ["-A", chain, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"])
    )
    rules.append(
        ("iptables", ["-I", "OUTPUT", "1", "-m", "cgroup", "--path", cgroup_path, "-j", chain])
    )
    rules.append(("iptables", ["-I", "FORWARD", "1", "-i", POD_BRIDGE, "-j", chain]))
    rules.append(
        (
            "ip6tables",
            [
                "-I",
                "OUTPUT",
                "1",
                "-m",
                "cgroup",
                "--path",
                cgroup_path,
                "!",
                "-o",
                "lo",
                "-j",
                "REJECT",
            ],
        )
    )
    rules.append(("ip6tables", ["-I", "FORWARD", "1", "-i", POD_BRIDGE, "-j", "REJECT"]))
    return rules


def undo_rule(args: list[str]) -> list[list[str]]:
    """The commands that undo one rule from `egress_rules` (a chain: flush, then delete)."""
    if args[0] == "-N":
        return [["-F", args[1]], ["-X", args[1]]]
    if args[0] == "-A":
        return []  # inside our own chain: flushed with it
    # "-I CHAIN POS rest" -> "-D CHAIN rest"
    return [["-D", args[1], *args[3:]]]


def sysctls() -> dict[str, str]:
    """Kernel settings the node needs (restored to their old values at teardown)."""
    return {
        "net/ipv4/ip_forward": "1",
        "net/bridge/bridge-nf-call-iptables": "1",
    }


def dump_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def dump_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2)
