"""What the samples in manifests/samples/ expect in their namespace on the test control plane."""

from __future__ import annotations

from typing import Any


def sample_storage(namespace: str, host_path: str = "/models") -> dict[str, Any]:
    """A `models` claim pre-bound to its own hostPath PersistentVolume (at `host_path`), and
    the `model-reader` account."""
    pv = f"models-{namespace}"
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": pv},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadOnlyMany"],
                    "storageClassName": "",
                    "hostPath": {"path": host_path},
                    "claimRef": {"namespace": namespace, "name": "models"},
                },
            },
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "models", "namespace": namespace},
                "spec": {
                    "accessModes": ["ReadOnlyMany"],
                    "storageClassName": "",
                    "volumeName": pv,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "model-reader", "namespace": namespace},
            },
        ],
    }
