"""Object metadata of children: names, namespace, labels, owner reference (pure)."""

from __future__ import annotations

from typing import Any

from modelplane.api import Resource

Obj = dict[str, Any]


def namespace_of(owner: Resource) -> str:
    """The owner's namespace (`default` when the YAML names none, as kubectl would)."""
    return owner.metadata.namespace or "default"


def owner_reference(owner: Resource) -> Obj | None:
    """Controller reference to the owner, so that deleting it garbage-collects children.

    None when the owner has no uid yet (local mode renders objects never stored).
    """
    if not owner.metadata.uid:
        return None
    return {
        "apiVersion": owner.API_VERSION,
        "kind": owner.KIND,
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child(api_version: str, kind: str, name: str, owner: Resource, labels: dict[str, str]) -> Obj:
    """A child object's envelope: apiVersion, kind and metadata with owner and labels."""
    metadata: Obj = {"name": name, "namespace": namespace_of(owner), "labels": dict(labels)}
    reference = owner_reference(owner)
    if reference is not None:
        metadata["ownerReferences"] = [reference]
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}
