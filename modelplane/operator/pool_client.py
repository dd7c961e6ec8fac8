"""The operator's calls to a pool replica's model server: the V2 repository extension
(docs/operator.md, "Multi-model pools"; the wire is in the issue-16 contract).

Blocking (urllib, no dependency), called from the pool pass's threads; every call has a
timeout. A failure is a `ReplicaError` carrying what the server said.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from modelplane.operator import names

INDEX_TIMEOUT = 10.0
UNLOAD_TIMEOUT = 30.0


class ReplicaError(Exception):
    """A call to a replica failed: no answer, or an error status (`status`, 0 for none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def base_url(pod_ip: str) -> str:
    """Where a replica's server listens."""
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    return f"http://{host}:{names.HTTP_PORT}"


def _post(url: str, body: dict[str, Any], timeout: float) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            data = answer.read()
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            text = str(json.loads(text).get("error") or text)
        raise ReplicaError(text[:1000] or f"HTTP {error.code}", error.code) from error
    except (OSError, urllib.error.URLError) as error:
        raise ReplicaError(f"no answer from {url}: {error}") from error
    return json.loads(data) if data else None


class ReplicaClient(Protocol):
    """What the pool pass asks of a replica (`HttpReplicas` in production; a test passes its
    own where pods serve nothing, as on the kwok tier)."""

    def index(self, pod_ip: str) -> list[dict[str, Any]]:
        """The replica's repository index."""
        ...

    def load(
        self, pod_ip: str, model: str, storage_uri: str, memory: int | None, timeout: float
    ) -> None:
        """Register and load a model."""
        ...

    def unregister(self, pod_ip: str, model: str) -> None:
        """Unload and forget a model."""
        ...


class HttpReplicas:
    """The V2 repository extension over HTTP at `http://<podIP>:8080` (`address` maps a pod's
    IP to its server's base URL; a component test points it at servers on 127.0.0.1)."""

    def __init__(self, address: Callable[[str], str] = base_url) -> None:
        self.address = address

    def index(self, pod_ip: str) -> list[dict[str, Any]]:
        """The replica's repository index: every model with its state and the pool's extras."""
        found = _post(f"{self.address(pod_ip)}/v2/repository/index", {}, INDEX_TIMEOUT)
        if not isinstance(found, list):
            raise ReplicaError(f"the index of {pod_ip} is not a list: {str(found)[:200]}")
        return [item for item in found if isinstance(item, dict)]

    def load(
        self, pod_ip: str, model: str, storage_uri: str, memory: int | None, timeout: float
    ) -> None:
        """Register the model from storage_uri on the replica and load it (the server pulls
        it); `memory` is its declared size in bytes."""
        parameters: dict[str, Any] = {"storage_uri": storage_uri}
        if memory is not None:
            parameters["memory"] = memory
        url = f"{self.address(pod_ip)}/v2/repository/models/{quote(model, safe='')}/load"
        _post(url, {"parameters": parameters}, timeout)

    def unregister(self, pod_ip: str, model: str) -> None:
        """Unload the model and forget it (its pulled files too)."""
        url = f"{self.address(pod_ip)}/v2/repository/models/{quote(model, safe='')}/unload"
        _post(url, {"parameters": {"unregister": True}}, UNLOAD_TIMEOUT)
