"""The Helm chart lints, renders what each value asks for, and rejects values its schema forbids."""

from __future__ import annotations

import pytest
import yaml

from modelplane.operator.render.autoscaling import POD_METRICS
from tests.support.client_tools import ClientTools
from tests.unit.ship.rendered import CHART, NAMESPACE, Obj, config_data, helm_template, index

pytestmark = pytest.mark.usefixtures("client_tools")


def kinds(objs: list[Obj]) -> list[str]:
    return sorted({o["kind"] for o in objs})


def operator_deployment(objs: list[Obj]) -> Obj:
    return index(objs)[("Deployment", NAMESPACE, "modelplane-operator")]


def operator_args(objs: list[Obj]) -> list[str]:
    args: list[str] = operator_deployment(objs)["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_helm_lint_passes_strict(client_tools: ClientTools) -> None:
    out = client_tools.helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in out.stdout


def test_default_render_has_operator_rbac_config_crds_and_runtimes(
    client_tools: ClientTools,
) -> None:
    objs = helm_template(client_tools)
    assert kinds(objs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterServingRuntime",
        "ConfigMap",
        "CustomResourceDefinition",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",  # the activator (scale to zero)
        "ServiceAccount",
    ]
    pod = operator_deployment(objs)["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "modelplane/operator:0.1.0"
    assert pod["securityContext"]["runAsNonRoot"] is True
    # No --namespace: the operator watches every namespace.
    assert not [a for a in operator_args(objs) if a.startswith("--namespace")]
    crds = {o["metadata"]["name"] for o in objs if o["kind"] == "CustomResourceDefinition"}
    assert {
        "inferenceservices.serving.modelplane.io",
        "inferencegraphs.serving.modelplane.io",
        "servingruntimes.serving.modelplane.io",
        "clusterservingruntimes.serving.modelplane.io",
    } <= crds


def test_operator_image_resources_and_log_level_follow_values(client_tools: ClientTools) -> None:
    objs = helm_template(
        client_tools,
        "--set",
        "operator.image.repository=registry.example/mp/operator",
        "--set",
        "operator.image.tag=9.9.9",
        "--set",
        "operator.logLevel=debug",
        "--set",
        "operator.resources.limits.memory=1Gi",
    )
    container = operator_deployment(objs)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/mp/operator:9.9.9"
    assert "--log-level=debug" in container["args"]
    assert container["resources"]["limits"]["memory"] == "1Gi"


def test_watched_namespaces_get_rolebindings_instead_of_a_cluster_binding(
    client_tools: ClientTools,
) -> None:
    objs = helm_template(client_tools, "--set", "operator.watchNamespaces={team-a,team-b}")
    bindings = index(objs)
    assert ("RoleBinding", "team-a", "modelplane-operator") in bindings
    assert ("RoleBinding", "team-b", "modelplane-operator") in bindings
    # Only the cluster-scoped rules (cluster runtimes, CRDs) stay bound cluster-wide.
    cluster_bindings = [o for o in objs if o["kind"] == "ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in cluster_bindings] == ["modelplane-operator-cluster"]
    args = operator_args(objs)
    assert [a for a in args if a.startswith("--namespace")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]


def test_runtimes_toggle_off(client_tools: ClientTools) -> None:
    objs = helm_template(client_tools, "--set", "runtimes.enabled=false")
    assert "ClusterServingRuntime" not in kinds(objs)


def test_operator_config_carries_ingress_and_images(client_tools: ClientTools) -> None:
    objs = helm_template(
        client_tools,
        "--set",
        "config.ingressDomain=models.example.com",
        "--set",
        "config.ingressClass=nginx",
        "--set",
        "config.routerImage=registry.example/router:1",
    )
    config = config_data(index(objs)[("ConfigMap", NAMESPACE, "modelplane-operator-config")])
    assert config["ingressDomain"] == "models.example.com"
    assert config["ingressClass"] == "nginx"
    assert config["routerImage"] == "registry.example/router:1"
    assert config["gpuResources"]["nvidia.com/gpu"] == "nvidia.com/gpu"


def test_empty_ingress_domain_is_left_out_of_the_config(client_tools: ClientTools) -> None:
    objs = helm_template(client_tools)
    config = config_data(index(objs)[("ConfigMap", NAMESPACE, "modelplane-operator-config")])
    assert "ingressDomain" not in config


def test_config_change_rolls_the_operator(client_tools: ClientTools) -> None:
    def checksum(objs: list[Obj]) -> str:
        annotations = operator_deployment(objs)["spec"]["template"]["metadata"]["annotations"]
        value: str = annotations["checksum/config"]
        return value

    before = checksum(helm_template(client_tools))
    after = checksum(helm_template(client_tools, "--set", "config.ingressDomain=a.example"))
    assert before != after


def test_monitors_select_what_the_operator_labels(client_tools: ClientTools) -> None:
    objs = helm_template(
        client_tools,
        "--set",
        "monitoring.serviceMonitor.enabled=true",
        "--set",
        "monitoring.podMonitor.enabled=true",
    )
    by_kind = {o["kind"]: o for o in objs}
    for kind in ("ServiceMonitor", "PodMonitor"):
        spec = by_kind[kind]["spec"]
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "modelplane"}
        assert spec["namespaceSelector"] == {"any": True}
    assert by_kind["ServiceMonitor"]["spec"]["endpoints"][0]["path"] == "/metrics"
    assert by_kind["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    assert "ServiceMonitor" not in kinds(helm_template(client_tools))


def test_adapter_rules_serve_the_pods_metrics_the_operator_names(client_tools: ClientTools) -> None:
    assert "ConfigMap" not in {  # off by default: only for clusters that run the adapter
        o["kind"] for o in helm_template(client_tools) if "adapter" in o["metadata"]["name"]
    }
    objs = helm_template(
        client_tools,
        "--set",
        "monitoring.adapterRules.enabled=true",
        "--set",
        "monitoring.adapterRules.namespace=monitoring",
        "--set",
        "monitoring.adapterRules.window=30s",
    )
    (rules,) = [o for o in objs if o["metadata"]["name"] == "modelplane-adapter-rules"]
    assert rules["metadata"]["namespace"] == "monitoring"
    config = yaml.safe_load(rules["data"]["config.yaml"])
    served = {rule["name"]["as"] for rule in config["rules"]}
    assert served == set(POD_METRICS.values())
    for rule in config["rules"]:
        assert rule["resources"]["overrides"] == {
            "namespace": {"resource": "namespace"},
            "pod": {"resource": "pod"},
        }
        assert "[30s]" in rule["metricsQuery"]
        assert "<<.LabelMatchers>>" in rule["metricsQuery"]


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("monitoring.adapterRules.window=soon", "window"),
        ("operator.logLevel=loud", "logLevel"),
        ("operator.logFormat=xml", "logFormat"),
        ("operator.replicas=3", "replicas"),
        ("operator.watchNamespaces={Not_A_Namespace}", "watchNamespaces"),
        ("operator.imagePolicy=Always", "imagePolicy"),
        ("monitoring.interval=often", "interval"),
    ],
)
def test_schema_rejects_bad_values_naming_the_field(
    client_tools: ClientTools, setting: str, field: str
) -> None:
    out = client_tools.helm("template", "modelplane", str(CHART), "--set", setting, check=False)
    assert out.returncode != 0
    assert field in out.stderr
