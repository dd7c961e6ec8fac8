"""The real test node itself: nothing can leave the machine, pods resolve cluster names and
nothing else, Services route, metrics-server serves the metrics HPAs act on, and
prometheus-adapter serves the custom metrics API from a Prometheus that stays on the node."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import yaml

from tests.support import dns, node_egress, node_plan
from tests.support.k8s_components import NODE_NAME, SERVICE_IP
from tests.support.node_cluster import RealCluster
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.real, pytest.mark.timeout(900)]


def pod_creation_times(cluster: RealCluster) -> list[datetime.datetime]:
    pods = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    return [
        datetime.datetime.fromisoformat(p["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        for p in pods
    ]


def test_egress_rule_and_closed_mirror_were_in_place_before_any_pod(
    real_cluster: RealCluster,
) -> None:
    checked = real_cluster.egress
    assert checked, "the node started without checking egress"
    assert any("-m cgroup" in rule and "OUTPUT" in rule for rule in checked["rules"])
    assert any("FORWARD" in rule and node_plan.POD_BRIDGE in rule for rule in checked["rules"])
    assert set(checked["mirrors"]) == set(node_plan.REGISTRIES)
    assert "127.0.0.1:1" in checked["public_pull"]
    at = datetime.datetime.fromisoformat(checked["checked_at"])
    assert all(at < created for created in pod_creation_times(real_cluster))
    # and they still are
    assert node_egress.verify_egress(real_cluster)["rules"] == checked["rules"]


def test_cluster_dns_answers_cluster_names_and_forwards_nothing(real_cluster: RealCluster) -> None:
    name = f"kubernetes.default.svc.{node_plan.CLUSTER_DOMAIN}"
    assert dns.resolve_a(node_plan.DNS_IP, name) == [SERVICE_IP]
    assert dns.resolve_a(node_plan.DNS_IP, "pypi.org") == []
    assert "forward" not in real_cluster.paths.corefile.read_text()


def test_a_pod_resolves_by_cluster_dns_and_reaches_the_api_through_its_service(
    real_cluster: RealCluster,
) -> None:
    script = (
        "import socket, ssl, urllib.request\n"
        "print(socket.gethostbyname('kubernetes.default'))\n"
        "try:\n"
        "    socket.gethostbyname('pypi.org'); print('outside: resolved')\n"
        "except OSError:\n"
        "    print('outside: unresolved')\n"
        "ctx = ssl._create_unverified_context()\n"
        "try:\n"
        "    urllib.request.urlopen('https://kubernetes.default/livez', context=ctx, timeout=5)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print('api:', e.code)\n"
        "else:\n"
        "    print('api: 200')\n"
    )
    namespace = "node-probe"
    real_cluster.kubectl("create", "namespace", namespace)
    try:
        real_cluster.kubectl(
            "run",
            "probe",
            "-n",
            namespace,
            "--restart=Never",
            "--image=modelplane/model-server:0.1.0",
            "--image-pull-policy=Never",
            "--command",
            "--",
            "/opt/venv/bin/python",
            "-c",
            script,
        )

        def finished() -> str | None:
            phase = real_cluster.kubectl(
                "get", "pod", "probe", "-n", namespace, "-o", "jsonpath={.status.phase}"
            ).stdout
            return phase if phase in ("Succeeded", "Failed") else None

        phase = wait_for(finished, timeout=120, interval=0.5, message="probe pod finished")
        log = real_cluster.kubectl("logs", "probe", "-n", namespace).stdout.splitlines()
        assert phase == "Succeeded", log
        assert log[0] == SERVICE_IP
        assert log[1] == "outside: unresolved"
        assert log[2] in ("api: 200", "api: 401", "api: 403"), log  # reached, auth aside
    finally:
        real_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_metrics_server_reports_the_node(real_cluster: RealCluster) -> None:
    def top() -> str | None:
        result = real_cluster.kubectl("top", "node", NODE_NAME, "--no-headers", check=False)
        return result.stdout if result.returncode == 0 else None

    line = wait_for(top, timeout=120, interval=2, message="kubectl top node")
    assert line.split()[0] == NODE_NAME


def test_custom_metrics_api_is_served_and_prometheus_stays_on_the_node(
    real_cluster: RealCluster,
) -> None:
    def served() -> bool:
        raw = "/apis/custom.metrics.k8s.io/v1beta1"
        result = real_cluster.kubectl("get", "--raw", raw, check=False)
        return result.returncode == 0 and json.loads(result.stdout)["kind"] == "APIResourceList"

    wait_for(served, timeout=120, interval=2, message="custom.metrics.k8s.io served")
    # both run in the node's cgroup, whose egress rule rejects anything off the machine
    for name in ("prometheus", "prometheus-adapter"):
        lines = Path(f"/proc/{real_cluster.pids[name]}/cgroup").read_text().splitlines()
        assert f"0::/{node_plan.CGROUP}" in lines, (name, lines)
    config = yaml.safe_load((real_cluster.paths.state / "prometheus.yml").read_text())
    assert set(config) == {"global", "scrape_configs"}  # no remote write or read, no alerting
    (job,) = config["scrape_configs"]
    assert [sd["role"] for sd in job["kubernetes_sd_configs"]] == ["pod"]
