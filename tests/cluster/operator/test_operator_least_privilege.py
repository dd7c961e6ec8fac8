"""The operator works under a ServiceAccount holding exactly the rules in rbac.py.

It elects itself leader through a Lease in its home namespace, under the Role that the chart
grants there (and nowhere else).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from modelplane.operator.leader import LeaseSettings
from modelplane.operator.rbac import CLUSTER_RULES, LEASE_RULES, NAMESPACED_RULES
from tests.cluster.operator.conftest import (
    ROOT,
    Kubectl,
    create_namespace,
    delete_namespace,
    eventually,
    running_operator,
)

pytestmark = pytest.mark.cluster

SAMPLES = ["isvc-onnx-cpu.yaml", "isvc-python-custom.yaml", "ig-sequence.yaml"]


def rbac_objects(home: str, suffix: str) -> list[dict[str, Any]]:
    """ServiceAccount, the two ClusterRoles and the Lease's Role from rbac.py, their bindings."""
    account = {"kind": "ServiceAccount", "name": "modelplane-operator", "namespace": home}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "modelplane-operator", "namespace": home},
        }
    ]
    for role, rules in (
        (f"mp-op-{suffix}", NAMESPACED_RULES),
        (f"mp-op-cluster-{suffix}", CLUSTER_RULES),
    ):
        objects += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": role},
                "rules": rules,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": role},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [account],
            },
        ]
    objects += [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "mp-op-lease", "namespace": home},
            "rules": LEASE_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "mp-op-lease", "namespace": home},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "mp-op-lease",
            },
            "subjects": [account],
        },
    ]
    return objects


def test_documented_rbac_is_enough(k8s_cluster: Any, kubectl: Kubectl, tmp_path: Path) -> None:
    home = create_namespace(kubectl, "rbac-home")
    namespace = create_namespace(kubectl, "rbac")
    suffix = home
    try:
        objects = {"apiVersion": "v1", "kind": "List", "items": rbac_objects(home, suffix)}
        kubectl("apply", "-f", "-", input=json.dumps(objects))
        token = kubectl(
            "create", "token", "modelplane-operator", "-n", home, "--duration=1h"
        ).strip()
        config = yaml.safe_load(Path(k8s_cluster.kubeconfig).read_text())
        for user in config["users"]:
            user["user"] = {"token": token}
        limited = tmp_path / "operator.kubeconfig"
        limited.write_text(yaml.safe_dump(config))

        lease = LeaseSettings(home, "least-privilege")
        with running_operator(SimpleNamespace(kubeconfig=limited), lease=lease) as runner:
            paths = [str(ROOT / "manifests" / "samples" / s) for s in SAMPLES]
            kubectl("apply", "-n", namespace, *[a for p in paths for a in ("-f", p)])
            for kind, name in [
                ("isvc", "iris-onnx"),
                ("isvc", "iris-labels"),
                ("ig", "iris-pipeline"),
            ]:
                eventually(
                    lambda k=kind, n=name: kubectl.ready(k, n, namespace), 120, f"{name} Ready"
                )
            held = kubectl.get("lease", lease.name, home) or {}
            assert held["spec"]["holderIdentity"] == "least-privilege"
        assert "forbidden" not in runner.output.lower(), runner.output[-3000:]
    finally:
        delete_namespace(kubectl, namespace)
        delete_namespace(kubectl, home)
        for role in (f"mp-op-{suffix}", f"mp-op-cluster-{suffix}"):
            kubectl(
                "delete", "clusterrole,clusterrolebinding", role, "--ignore-not-found", check=False
            )
