"""Service and Ingress of a component or router (pure)."""

from __future__ import annotations

from modelplane.api import Resource
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.meta import Obj, child, namespace_of


def service(name: str, owner: Resource, labels: dict[str, str], grpc: bool = True) -> Obj:
    """ClusterIP Service: http 80 -> 8080 and, for model servers and routers, gRPC 8081 (h2c)."""
    ports: list[Obj] = [
        {
            "name": "http",
            "port": names.SERVICE_HTTP_PORT,
            "targetPort": names.HTTP_PORT,
            "protocol": "TCP",
        },
    ]
    if grpc:
        ports.append(
            {
                "name": "grpc",
                "port": names.GRPC_PORT,
                "targetPort": names.GRPC_PORT,
                "protocol": "TCP",
                "appProtocol": "kubernetes.io/h2c",
            }
        )
    obj = child("v1", "Service", name, owner, labels)
    obj["spec"] = {"type": "ClusterIP", "selector": dict(labels), "ports": ports}
    return obj


def service_url(service_name: str, owner: Resource) -> str:
    """In-cluster URL of a Service's http port."""
    return f"http://{names.cluster_host(service_name, namespace_of(owner))}"


def external_url(owner: Resource, config: OperatorConfig) -> str | None:
    """The URL the Ingress serves, when an ingress domain is configured."""
    if not config.ingress_domain:
        return None
    host = names.host(owner.metadata.name or "", namespace_of(owner), config.ingress_domain)
    return f"{config.url_scheme}://{host}"


def ingress(
    owner: Resource, labels: dict[str, str], backend: str, config: OperatorConfig
) -> Obj | None:
    """Ingress `{name}-{namespace}.{domain}` -> the entry Service; None without a domain."""
    if not config.ingress_domain:
        return None
    name = owner.metadata.name or ""
    obj = child("networking.k8s.io/v1", "Ingress", names.ingress(name), owner, labels)
    spec: Obj = {
        "rules": [
            {
                "host": names.host(name, namespace_of(owner), config.ingress_domain),
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": backend,
                                    "port": {"number": names.SERVICE_HTTP_PORT},
                                }
                            },
                        }
                    ]
                },
            }
        ]
    }
    if config.ingress_class:
        spec["ingressClassName"] = config.ingress_class
    obj["spec"] = spec
    return obj
