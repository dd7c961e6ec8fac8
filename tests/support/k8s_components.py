"""Command lines of the control-plane components (pure: paths and ports in, argv out)."""

from __future__ import annotations

from pathlib import Path

from tests.support import fake_nodes
from tests.support.k8s_pki import FRONT_PROXY_CN, PkiFiles

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.1/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
NODE_NAME = "modelplane-node"
# The real node's components and their API identities: the kubelet and kube-proxy as the
# default RBAC rules expect them; the add-ons (CoreDNS, Traefik, metrics-server) as admins,
# since this throwaway cluster has no other tenants.
NODE_USERS = {
    "kubelet": (f"system:node:{NODE_NAME}", "system:nodes"),
    "kube-proxy": ("system:kube-proxy", ""),
    "addons": ("modelplane-node-addons", "system:masters"),
}


def etcd_argv(bin_dir: Path, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    """A single-member etcd on loopback; fsync off because the data is throwaway."""
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(bin_dir / "etcd"),
        "--name=default",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_argv(
    bin_dir: Path,
    state_dir: Path,
    pki: PkiFiles,
    etcd_port: int,
    port: int,
    token_file: Path,
    address: str = "127.0.0.1",
) -> list[str]:
    """kube-apiserver: token auth, Node+RBAC authorization, SA tokens, bound to `address`.

    On loopback (the kwok tier) the `kubernetes` Service has no endpoints: a loopback
    address is not a valid Endpoints IP and nothing in a pod needs it. On a node address
    (the real-pod tier) the lease reconciler publishes it, so pods reach the API server
    through the Service IP, and aggregated APIs (metrics-server) get the front-proxy cert.
    """
    argv = [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        f"--bind-address={address}",
        f"--advertise-address={address}",
        f"--secure-port={port}",
        f"--cert-dir={state_dir / 'apiserver-certs'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={token_file}",
        "--authorization-mode=Node,RBAC",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        "--profiling=false",
    ]
    if address.startswith("127."):
        return [*argv, "--endpoint-reconciler-type=none"]
    assert pki.front_proxy_cert is not None and pki.front_proxy_key is not None
    return [
        *argv,
        "--endpoint-reconciler-type=lease",
        f"--requestheader-client-ca-file={pki.ca_cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CN}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy_cert}",
        f"--proxy-client-key-file={pki.front_proxy_key}",
        "--enable-aggregator-routing=true",
        # the node's name is no DNS name here (and the host's resolver is off limits)
        "--kubelet-preferred-address-types=InternalIP",
    ]


# With a real node, HPAs act on real metrics: decide every 5 s and scale down after 30 s
# of low load instead of 5 minutes, so a soak run sees a whole up-and-down cycle.
REAL_NODE_CONTROLLER_FLAGS = [
    "--horizontal-pod-autoscaler-sync-period=5s",
    "--horizontal-pod-autoscaler-downscale-stabilization=30s",
]


def controller_manager_argv(bin_dir: Path, kubeconfig: Path, pki: PkiFiles) -> list[str]:
    """kube-controller-manager with every default controller, one SA per controller."""
    return [
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        "--controllers=*",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        "--leader-elect=false",
        "--secure-port=0",
        "--profiling=false",
    ]


def scheduler_argv(bin_dir: Path, kubeconfig: Path) -> list[str]:
    """kube-scheduler with its default profile, no serving port."""
    return [
        str(bin_dir / "kube-scheduler"),
        f"--kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--secure-port=0",
        "--profiling=false",
    ]


def kwok_argv(bin_dir: Path, kubeconfig: Path) -> list[str]:
    """kwok managing only the annotated fake nodes, with its default (fast) stages."""
    return [
        str(bin_dir / "kwok"),
        f"--kubeconfig={kubeconfig}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={fake_nodes.MANAGED_ANNOTATION}=fake",
        "--node-lease-duration-seconds=40",
        f"--cidr={POD_CIDR}",
    ]
