"""What the chart hands the operator is what the operator reads: its flags, settings and RBAC."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.operator import names
from modelplane.operator.cli import parse_flags
from modelplane.operator.config import load_config
from modelplane.operator.kinds import TABLE
from modelplane.operator.rbac import (
    CLUSTER_RULES,
    ENDPOINTS_RULES,
    KOPF_CLUSTER_RULES,
    KOPF_NAMESPACED_RULES,
    LEASE_RULES,
    NAMESPACED_RULES,
    POOL_RULES,
    SCALE_RULES,
)
from tests.support.client_tools import ClientTools
from tests.unit.ship.rendered import NAMESPACE, Obj, helm_template, index

WRITES = ("create", "update", "patch", "delete", "deletecollection")
SETTINGS = [
    [],
    [
        "--set",
        "config.ingressDomain=models.example.com",
        "--set",
        "config.ingressClass=nginx",
        "--set",
        "config.ingressProbeUrl=http://traefik.kube-system",
    ],
    ["--set", "operator.logLevel=debug", "--set", "operator.watchNamespaces={a,b}"],
]


def operator_container(objs: list[Obj]) -> Obj:
    deployment = index(objs)[("Deployment", NAMESPACE, "modelplane-operator")]
    container: Obj = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize("settings", SETTINGS)
def test_operator_parses_the_charts_arguments(
    client_tools: ClientTools, settings: list[str]
) -> None:
    args = parse_flags(operator_container(helm_template(client_tools, *settings))["args"])
    assert args.config == Path("/etc/modelplane/config.yaml")
    assert args.liveness.endswith("/healthz")
    assert args.log_format == "json"
    assert args.log_level == ("debug" if "operator.logLevel=debug" in settings else "info")


def test_watched_namespaces_reach_the_operator(client_tools: ClientTools) -> None:
    objs = helm_template(client_tools, "--set", "operator.watchNamespaces={a,b}")
    assert parse_flags(operator_container(objs)["args"]).namespaces == ["a", "b"]


@pytest.mark.parametrize("settings", SETTINGS)
def test_operator_loads_the_charts_config(
    client_tools: ClientTools, settings: list[str], tmp_path: Path
) -> None:
    configmap = index(helm_template(client_tools, *settings))[
        ("ConfigMap", NAMESPACE, "modelplane-operator-config")
    ]
    path = tmp_path / "config.yaml"
    path.write_text(configmap["data"]["config.yaml"])
    config = load_config(path)  # unknown keys are an error (extra="forbid")
    assert config.router_image == "modelplane/router:0.1.0"
    assert config.gpu_resources["nvidia.com/mig-*"] == "nvidia.com/gpu"
    if "config.ingressDomain=models.example.com" in settings:
        assert config.ingress_domain == "models.example.com"
        assert config.ingress_class == "nginx"
        assert config.ingress_probe_url == "http://traefik.kube-system"
    else:
        assert config.ingress_domain is None
        assert config.ingress_probe_url is None  # the chart's empty default: no probe


def granted(objs: list[Obj], kind: str = "ClusterRole") -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples of the chart's ClusterRoles (or Roles)."""
    out: set[tuple[str, str, str]] = set()
    for role in (o for o in objs if o["kind"] == kind):
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    out |= {(group, resource, verb) for verb in rule["verbs"]}
    return out


def test_cluster_roles_are_exactly_the_operators_rules(client_tools: ClientTools) -> None:
    roles = {
        o["metadata"]["name"]: o for o in helm_template(client_tools) if o["kind"] == "ClusterRole"
    }
    assert roles["modelplane-operator"]["rules"] == NAMESPACED_RULES
    assert roles["modelplane-operator-cluster"]["rules"] == CLUSTER_RULES


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_lease_is_granted_only_in_the_operators_namespace(
    client_tools: ClientTools, settings: list[str]
) -> None:
    objs = helm_template(client_tools, *settings)
    roles = [o for o in objs if o["kind"] == "Role"]
    assert [(r["metadata"]["namespace"], r["rules"]) for r in roles] == [(NAMESPACE, LEASE_RULES)]
    binding = index(objs)[("RoleBinding", NAMESPACE, roles[0]["metadata"]["name"])]
    assert binding["roleRef"]["name"] == roles[0]["metadata"]["name"]
    assert not [r for r in granted(objs) if r[1] == "leases"]  # no ClusterRole grants leases
    # the operator elects its leader through a Lease in that same namespace
    assert parse_flags(operator_container(objs)["args"]).lease_namespace == NAMESPACE


def test_rbac_grants_every_call_the_operator_makes(client_tools: ClientTools) -> None:
    rules = granted(helm_template(client_tools))
    children = {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "Ingress"}
    children.add("HTTPRoute")  # Gateway mode
    children.add("EndpointSlice")  # scale to zero: a Service at zero goes to the activator
    children.add("StatefulSet")  # multi-model pools
    assert {k.kind for k in TABLE if k.role == "child"} == children
    for kind in (k for k in TABLE if k.role not in ("lease", "event")):  # it reads, it watches
        verbs = {"get", "list", "watch"}
        if kind.kind in children:
            verbs |= {"create", "patch", "delete"}  # server-side apply and pruning
        for verb in verbs:
            assert (kind.group, kind.plural, verb) in rules, f"{verb} {kind.kind}"
    for owner in ("inferenceservices", "inferencegraphs"):
        assert ("serving.modelplane.io", f"{owner}/status", "patch") in rules
    assert ("", "events", "create") in rules  # kopf reports handler errors as Events
    assert ("events.k8s.io", "events", "create") in rules  # the owners' transitions (events.py)
    # scale to zero: the idle clock and the activator set replicas through the subresource
    assert ("apps", "deployments/scale", "patch") in rules
    assert not {v for g, r, v in rules if r == "events"} - {"create"}  # never read back


def test_rbac_names_no_resource_outside_the_table_of_kinds(client_tools: ClientTools) -> None:
    """A kind the chart grants but the table lacks (or kopf does not need) is a drift."""
    known = {(k.group, k.plural) for k in TABLE if k.role != "lease"}
    known |= {(k.group, f"{k.plural}/status") for k in TABLE if k.role == "owner"}
    extras = (*KOPF_NAMESPACED_RULES, *KOPF_CLUSTER_RULES, *SCALE_RULES, *ENDPOINTS_RULES)
    for rule in (*extras, *POOL_RULES):
        known |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    granted_resources = {
        (group, resource) for group, resource, _ in granted(helm_template(client_tools))
    }
    assert granted_resources == known


def test_rbac_grants_nothing_on_secrets_only_pod_labels_and_no_wildcards(
    client_tools: ClientTools,
) -> None:
    rules = granted(helm_template(client_tools))
    assert not [r for r in rules if r[1] == "secrets" or "*" in r]
    # Pods are read for the status's reasons; a pool's pods are labelled (a patch) with the
    # models they hold; never created or deleted.
    assert {r[2] for r in rules if r[1] == "pods"} == {"get", "list", "watch", "patch"}
    # Reading custom resources only: the operator writes their status, never their spec.
    assert not [
        r for r in rules if r[0] == "serving.modelplane.io" and "/" not in r[1] and r[2] in WRITES
    ]


def test_monitors_select_the_labels_the_operator_sets(client_tools: ClientTools) -> None:
    objs = helm_template(client_tools, "--set", "monitoring.podMonitor.enabled=true")
    monitor = next(o for o in objs if o["kind"] == "PodMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector == {names.MANAGED_BY: names.MANAGED_BY_VALUE}
    assert selector.items() <= names.component_labels("m", names.PREDICTOR).items()
    assert selector.items() <= names.router_labels("g").items()
