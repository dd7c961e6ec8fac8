"""The real clients (kubectl, helm) talk to the test API server at the pinned version."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support import controlplane
from tests.support.cluster import Cluster
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster


def test_kubectl_reports_the_pinned_server_version(k8s_cluster: Cluster) -> None:
    versions = json.loads(k8s_cluster.kubectl("version", "-o", "json").stdout)
    pinned = controlplane.k8s_version()
    assert versions["serverVersion"]["gitVersion"] == pinned
    assert versions["serverVersion"]["minor"] == pinned.split(".")[1]
    assert versions["clientVersion"]["gitVersion"].startswith("v1.34.")


def test_rbac_denies_an_unprivileged_service_account(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    user = f"system:serviceaccount:{k8s_namespace}:default"
    denied = k8s_cluster.kubectl("auth", "can-i", "create", "pods", "--as", user, check=False)
    assert denied.stdout.strip() == "no"
    allowed = k8s_cluster.kubectl("auth", "can-i", "create", "pods")
    assert allowed.stdout.strip() == "yes"


def test_helm_installs_a_chart_into_the_cluster(
    k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    assert re.match(r"v[34]\.", k8s_cluster.helm("version", "--short").stdout)
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hi\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    k8s_cluster.helm(
        "install", "demo", str(chart), "-n", k8s_namespace, "--set", "greeting=hello", "--wait"
    )
    cm = json.loads(
        k8s_cluster.kubectl("get", "cm", "demo-greeting", "-n", k8s_namespace, "-o", "json").stdout
    )
    assert cm["data"] == {"greeting": "hello"}
    k8s_cluster.helm("uninstall", "demo", "-n", k8s_namespace)
    wait_for(
        lambda: (
            k8s_cluster.kubectl(
                "get", "cm", "demo-greeting", "-n", k8s_namespace, check=False
            ).returncode
            != 0
        ),
        timeout=30,
        message="configmap removed by helm uninstall",
    )
