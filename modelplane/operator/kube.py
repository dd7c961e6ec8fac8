"""The one module that talks to the Kubernetes API: get, list, apply, delete, patch status,
and create / replace (the leader-election Lease, which needs optimistic concurrency).

Every call is synchronous and thread-safe (a pooled `kubernetes` ApiClient underneath);
the reconciler runs them off the event loop.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

from kubernetes import client, config

from modelplane.operator.kinds import BY_KIND
from modelplane.operator.names import FIELD_MANAGER, SCALER_FIELD_MANAGER

Obj = dict[str, Any]


def load_configuration() -> client.Configuration:
    """In-cluster service account when running in a pod, else $KUBECONFIG (read now)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG") or None,
            client_configuration=configuration,
        )
    configuration.connection_pool_maxsize = 32
    return configuration


def credentials() -> dict[str, Any]:
    """How to reach the API server, as plain data (for kopf's own watch connections)."""
    configuration = load_configuration()
    token = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get(
        "BearerToken"
    )
    scheme = None
    if token and " " in token:
        scheme, token = token.split(" ", 1)
    return {
        "server": configuration.host,
        "ca_path": configuration.ssl_ca_cert,
        "insecure": not configuration.verify_ssl,
        "username": configuration.username or None,
        "password": configuration.password or None,
        "scheme": scheme,
        "token": token,
        "certificate_path": configuration.cert_file,
        "private_key_path": configuration.key_file,
    }


class KubeError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")
        self.status = status
        try:
            self.message = str(json.loads(body).get("message") or body[:500])
        except (ValueError, AttributeError):
            self.message = body[:500]


class Kube:
    """A thin JSON client over the REST API for the kinds in the table (`kinds.TABLE`)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client

    @classmethod
    def from_environment(cls) -> Kube:
        """A client configured like kubectl (see `load_configuration`)."""
        return cls(client.ApiClient(load_configuration()))

    def close(self) -> None:
        """Release pooled connections."""
        self._api.close()  # type: ignore[no-untyped-call]

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: str | Obj | None = None,
        content_type: str | None = None,
    ) -> Obj | None:
        """One request; JSON answer, None on 404, KubeError on other failures.

        The REST client JSON-encodes dict bodies sent as application/json and passes
        string bodies of other content types (apply patches) through as they are.
        """
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        _, url, headers, _, _ = self._api.param_serialize(
            method, path, query_params=query, header_params=headers, auth_settings=["BearerToken"]
        )
        response = self._api.call_api(method, url, header_params=headers, body=body)
        data = response.read()  # type: ignore[no-untyped-call]
        if response.status == 404:
            return None
        if response.status >= 400:
            raise KubeError(response.status, method, path, data.decode(errors="replace"))
        loaded: Obj = json.loads(data) if data else {}
        return loaded

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """One object, or None when absent."""
        return self._call("GET", BY_KIND[kind].path(namespace, name))

    def list(self, kind: str, namespace: str | None, selector: str | None = None) -> list[Obj]:
        """Objects of a kind in a namespace (all namespaces when None), by label selector.

        Served from the API server's watch cache (resourceVersion=0): no etcd read, at most
        as stale as the watch events that trigger passes, which is what a level-based
        pass can live with (the next event or resync sees newer state).
        """
        query = [("resourceVersion", "0")]
        if selector:
            query.append(("labelSelector", selector))
        answer = self._call("GET", BY_KIND[kind].path(namespace), query=query) or {}
        items: list[Obj] = answer.get("items") or []
        for item in items:  # list items omit their own apiVersion/kind
            item.setdefault("apiVersion", BY_KIND[kind].api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj: Obj) -> Obj:
        """Server-side apply under the one field manager, taking ownership of conflicts."""
        meta = obj["metadata"]
        path = BY_KIND[obj["kind"]].path(meta.get("namespace"), meta["name"])
        answer = self._call(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=json.dumps(obj),
            content_type="application/apply-patch+yaml",
        )
        assert answer is not None  # apply creates, it never answers 404
        return answer

    def apply_status(self, obj: Obj) -> None:
        """Server-side apply of an object's status subresource (apiVersion, kind, name, status)."""
        meta = obj["metadata"]
        path = BY_KIND[obj["kind"]].path(meta.get("namespace"), meta["name"]) + "/status"
        self._call(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=json.dumps(obj),
            content_type="application/apply-patch+yaml",
        )

    def create(self, obj: Obj) -> Obj:
        """Create an object; KubeError 409 when one of that name exists."""
        meta = obj["metadata"]
        answer = self._call(
            "POST",
            BY_KIND[obj["kind"]].path(meta.get("namespace")),
            body=obj,
            content_type="application/json",
        )
        assert answer is not None
        return answer

    def replace(self, obj: Obj) -> Obj:
        """Replace an object as read (its resourceVersion): KubeError 409 when it changed since."""
        meta = obj["metadata"]
        answer = self._call(
            "PUT",
            BY_KIND[obj["kind"]].path(meta.get("namespace"), meta["name"]),
            body=obj,
            content_type="application/json",
        )
        if answer is None:
            raise KubeError(404, "PUT", meta["name"], "gone")
        return answer

    def patch(
        self,
        kind: str,
        namespace: str,
        name: str,
        body: Obj,
        field_manager: str = SCALER_FIELD_MANAGER,
    ) -> None:
        """A JSON merge patch of one object (fields the apply does not own: an annotation, a
        pool pod's model labels)."""
        self._call(
            "PATCH",
            BY_KIND[kind].path(namespace, name),
            query=[("fieldManager", field_manager)],
            body=body,  # JSON-encoded by the REST client
            content_type="application/merge-patch+json",
        )

    def scale(self, kind: str, namespace: str, name: str, replicas: int) -> None:
        """Set the replicas of a scalable object through its scale subresource."""
        self._call(
            "PATCH",
            BY_KIND[kind].path(namespace, name) + "/scale",
            query=[("fieldManager", SCALER_FIELD_MANAGER)],
            body={"spec": {"replicas": replicas}},  # JSON-encoded by the REST client
            content_type="application/merge-patch+json",
        )

    def delete_endpoints(self, namespace: str, name: str) -> None:
        """Delete a Service's v1 Endpoints object (not a kind of the table: only deleted, by
        name, when its Service goes to zero; `rbac.ENDPOINTS_RULES`); absent is fine."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        path = f"/api/v1/namespaces/{quote(namespace)}/endpoints/{quote(name)}"
        self._call("DELETE", path, body=body, content_type="application/json")

    def delete(self, kind: str, namespace: str | None, name: str, uid: str | None = None) -> None:
        """Delete one object (only that incarnation when uid is given); absent is fine."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        try:
            self._call(
                "DELETE",
                BY_KIND[kind].path(namespace, name),
                body=body,
                content_type="application/json",
            )
        except KubeError as error:
            if error.status != 409:  # precondition failed: a newer object took the name
                raise
