"""The real node's metrics add-ons as data: Prometheus stays on loopback and scrapes only the
operator's pods; prometheus-adapter is the custom metrics API on the node address."""

from __future__ import annotations

from pathlib import Path

from tests.support import node_addons, node_plan


def test_prometheus_scrapes_only_the_operators_pods_and_sends_nowhere() -> None:
    config = node_addons.prometheus_config(Path("/state/addons.kubeconfig"))
    assert set(config) == {"global", "scrape_configs"}  # no remote write or read, no alerting
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd == {"role": "pod", "kubeconfig_file": "/state/addons.kubeconfig"}
    keep = {
        tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action")
    }
    assert keep[("__meta_kubernetes_pod_label_app_kubernetes_io_managed_by",)] == "modelplane"
    assert keep[("__meta_kubernetes_pod_container_port_name",)] == "http"
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert {"namespace", "pod"} <= targets  # what the adapter's rules map to resources


def test_prometheus_listens_on_loopback_and_the_adapter_on_the_node() -> None:
    prometheus = node_addons.prometheus_argv(Path("/bin"), Path("/c"), Path("/d"), 9090)
    assert "--web.listen-address=127.0.0.1:9090" in prometheus
    adapter = node_addons.adapter_argv(
        Path("/bin"), Path("/k"), Path("/certs"), 6443, "http://127.0.0.1:9090", Path("/r")
    )
    assert f"--bind-address={node_plan.NODE_IP}" in adapter
    assert "--prometheus-url=http://127.0.0.1:9090" in adapter


def test_the_adapter_is_registered_as_the_custom_metrics_api() -> None:
    objects = node_addons.custom_metrics_objects(6443)
    (service,) = [o for o in objects if o["kind"] == "APIService"]
    assert service["metadata"]["name"] == "v1beta1.custom.metrics.k8s.io"
    (slice_,) = [o for o in objects if o["kind"] == "EndpointSlice"]
    assert slice_["endpoints"][0]["addresses"] == [node_plan.NODE_IP]
    assert slice_["ports"][0]["port"] == 6443
