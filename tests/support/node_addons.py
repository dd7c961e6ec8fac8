"""The node's add-ons as data: CoreDNS, Traefik and metrics-server command lines and config,
and the API objects they need (IngressClass, Gateway, the metrics APIService). Pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.node_plan import (
    CLUSTER_DOMAIN,
    DNS_IP,
    GATEWAY_CLASS,
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    INGRESS_CLASS,
    INGRESS_IP,
    INGRESS_PORT,
    NODE_IP,
    NodePaths,
)


def corefile(kubeconfig: Path) -> str:
    """CoreDNS: the cluster zone from the API server, and nothing else (no `forward`)."""
    return "\n".join(
        [
            ".:53 {",
            f"    bind {DNS_IP}",
            "    errors",
            "    health 127.0.0.1:0",
            f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{",
            f"        kubeconfig {kubeconfig} modelplane-test",
            "        pods insecure",
            "        fallthrough in-addr.arpa ip6.arpa",
            "        ttl 5",
            "    }",
            "    cache 5",
            "}",
            "",
        ]
    )


def coredns_argv(node_bin: Path, paths: NodePaths) -> list[str]:
    return [str(node_bin / "coredns"), "-conf", str(paths.corefile)]


def traefik_argv(
    node_bin: Path, server: str, token: str, ca: Path, ping_port: int, gateway: bool
) -> list[str]:
    """Traefik serving Ingresses of class `traefik` (and Gateway API routes) on port 80.

    No version check, no anonymous usage reports: nothing leaves the machine.
    """
    argv = [
        str(node_bin / "traefik"),
        "--global.checknewversion=false",
        "--global.sendanonymoususage=false",
        "--log.level=INFO",
        f"--entrypoints.web.address={INGRESS_IP}:{INGRESS_PORT}",
        f"--entrypoints.traefik.address=127.0.0.1:{ping_port}",
        "--ping=true",
        "--providers.kubernetesingress=true",
        f"--providers.kubernetesingress.endpoint={server}",
        f"--providers.kubernetesingress.token={token}",
        f"--providers.kubernetesingress.certauthfilepath={ca}",
        f"--providers.kubernetesingress.ingressclass={INGRESS_CLASS}",
        f"--providers.kubernetesingress.ingressendpoint.ip={INGRESS_IP}",
    ]
    if gateway:
        argv += [
            "--providers.kubernetesgateway=true",
            f"--providers.kubernetesgateway.endpoint={server}",
            f"--providers.kubernetesgateway.token={token}",
            f"--providers.kubernetesgateway.certauthfilepath={ca}",
        ]
    return argv


def metrics_server_argv(node_bin: Path, kubeconfig: Path, cert_dir: Path, port: int) -> list[str]:
    """metrics-server on the node IP, scraping the kubelet every 15 s."""
    return [
        str(node_bin / "metrics-server"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={NODE_IP}",
        f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
        "--kubelet-insecure-tls",
        "--kubelet-preferred-address-types=InternalIP",
        "--metric-resolution=15s",
    ]


def cluster_objects(metrics_port: int) -> list[dict[str, Any]]:
    """What the node's add-ons need in the API: the IngressClass, and the metrics APIService
    with its selector-less Service and EndpointSlice pointing at the host process."""
    labels = {"app.kubernetes.io/part-of": "modelplane-test-node"}
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": INGRESS_CLASS, "labels": labels},
            "spec": {"controller": "traefik.io/ingress-controller"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": labels},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": metrics_port}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "metrics-server-host",
                "namespace": "kube-system",
                "labels": {**labels, "kubernetes.io/service-name": "metrics-server"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": metrics_port, "protocol": "TCP"}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": labels},
            "spec": {
                "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def gateway_objects() -> list[dict[str, Any]]:
    """Traefik's GatewayClass and one Gateway listening on the ingress address's port 80."""
    labels = {"app.kubernetes.io/part-of": "modelplane-test-node"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": GATEWAY_NAMESPACE, "labels": labels},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": GATEWAY_CLASS, "labels": labels},
            "spec": {"controllerName": "traefik.io/gateway-controller"},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE, "labels": labels},
            "spec": {
                "gatewayClassName": GATEWAY_CLASS,
                "listeners": [
                    {
                        "name": "http",
                        "protocol": "HTTP",
                        "port": INGRESS_PORT,
                        "allowedRoutes": {"namespaces": {"from": "All"}},
                    }
                ],
            },
        },
    ]
