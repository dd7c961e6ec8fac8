"""The node's add-ons as data: CoreDNS, Traefik, metrics-server, Prometheus and
prometheus-adapter command lines and config, and the API objects they need (IngressClass,
Gateway, the metrics and custom metrics APIServices). Pure."""

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


# Prometheus on the node: the pods of the operator scraped every 2 s; the adapter's rate and
# in-flight windows (the chart's adapter rules, monitoring.adapterRules.window) span 5 scrapes.
SCRAPE_INTERVAL = "2s"
RATE_WINDOW = "10s"
ADAPTER_RELIST = "5s"
MANAGED_BY_LABEL = "app_kubernetes_io_managed_by"  # app.kubernetes.io/managed-by, as SD names it


def prometheus_config(kubeconfig: Path) -> dict[str, Any]:
    """Prometheus scraping `/metrics` on the `http` port of every pod the operator labels
    `app.kubernetes.io/managed-by: modelplane` (model servers and routers), found through
    the API (kubernetes_sd, role pod), with `namespace` and `pod` labels as the adapter's
    rules expect. Nothing else: no remote write or read, no alerting, no other target."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": "modelplane-pods",
                "metrics_path": "/metrics",
                "kubernetes_sd_configs": [{"role": "pod", "kubeconfig_file": str(kubeconfig)}],
                "relabel_configs": [
                    {
                        "source_labels": [f"__meta_kubernetes_pod_label_{MANAGED_BY_LABEL}"],
                        "regex": "modelplane",
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                        "regex": "http",
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_phase"],
                        "regex": "Running",
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_namespace"],
                        "target_label": "namespace",
                    },
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            }
        ],
    }


def prometheus_argv(node_bin: Path, config: Path, data: Path, port: int) -> list[str]:
    """Prometheus on loopback only (the adapter is its one client), keeping an hour."""
    return [
        str(node_bin / "prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=1h",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]


def adapter_argv(
    node_bin: Path, kubeconfig: Path, cert_dir: Path, port: int, prometheus: str, config: Path
) -> list[str]:
    """prometheus-adapter on the node IP (the API server's aggregator calls it), reading the
    chart's rules from `config` and Prometheus at `prometheus`, relisting series every 5 s."""
    return [
        str(node_bin / "prometheus-adapter"),
        f"--lister-kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={NODE_IP}",
        f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
        f"--prometheus-url={prometheus}",
        f"--config={config}",
        f"--metrics-relist-interval={ADAPTER_RELIST}",
        "--v=1",
    ]


def aggregated_api(
    name: str, group: str, version: str, port: int, labels: dict[str, str]
) -> list[dict[str, Any]]:
    """An APIService served by a host process on the node IP: a selector-less Service in
    kube-system, its EndpointSlice to `NODE_IP:port`, and the APIService."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-host",
                "namespace": "kube-system",
                "labels": {**labels, "kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": labels},
            "spec": {
                "service": {"name": name, "namespace": "kube-system", "port": 443},
                "group": group,
                "version": version,
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def custom_metrics_objects(adapter_port: int) -> list[dict[str, Any]]:
    """The custom metrics APIService (`v1beta1.custom.metrics.k8s.io`) on prometheus-adapter."""
    labels = {"app.kubernetes.io/part-of": "modelplane-test-node"}
    return aggregated_api(
        "prometheus-adapter", "custom.metrics.k8s.io", "v1beta1", adapter_port, labels
    )


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
        *aggregated_api("metrics-server", "metrics.k8s.io", "v1beta1", metrics_port, labels),
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
