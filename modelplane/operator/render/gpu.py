"""GPU detection and tolerations from extended resource names (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modelplane.operator.render.meta import Obj


def _matches(resource: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return resource.startswith(pattern[:-1])
    return resource == pattern


def gpu_taint_keys(resources: Iterable[str], gpu_resources: Mapping[str, str]) -> list[str]:
    """Taint keys to tolerate for the GPU resources among `resources` (sorted, unique)."""
    keys = {
        taint
        for resource in resources
        for pattern, taint in gpu_resources.items()
        if _matches(resource, pattern)
    }
    return sorted(keys)


def requested_resources(resources: Obj | None) -> set[str]:
    """Resource names a container's requirements mention (limits or requests)."""
    if not resources:
        return set()
    return set(resources.get("limits") or {}) | set(resources.get("requests") or {})


def toleration(key: str) -> Obj:
    """Toleration of the NoSchedule taint that GPU nodes carry under `key`."""
    return {"key": key, "operator": "Exists", "effect": "NoSchedule"}
