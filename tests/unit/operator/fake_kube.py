"""An in-memory API server behind `Kube`'s interface, for reconciler table tests.

It keeps objects by (kind, namespace, name), gives each a uid and resourceVersion, answers
label-selector lists, applies as a whole-object write (what a single field manager that
sends everything it manages amounts to), and records every write so a test can say which
calls a pass made. A child can be set to be refused with a status code.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from modelplane.operator.kinds import BY_KIND
from modelplane.operator.kube import KubeError

Obj = dict[str, Any]
Ref = tuple[str, str | None, str]  # (kind, namespace, name)


def matches(labels: dict[str, str], selector: str | None) -> bool:
    """Equality-based label selectors only (`a=b,c=d`), which is all the operator uses."""
    if not selector:
        return True
    pairs = (term.split("=", 1) for term in selector.split(","))
    return all(labels.get(key) == value for key, value in pairs)


@dataclass
class FakeKube:
    """Objects in memory; `writes` lists (verb, kind, name) in order."""

    objects: dict[Ref, Obj] = field(default_factory=dict)
    writes: list[tuple[str, str, str]] = field(default_factory=list)
    refuse: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, name) -> HTTP
    # labels and annotations written by `patch` (another field manager): an apply keeps them
    patched: dict[Ref, dict[str, dict[str, str]]] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _ref(self, kind: str, namespace: str | None, name: str) -> Ref:
        return (kind, namespace if BY_KIND[kind].namespaced else None, name)

    def put(self, obj: Obj) -> Obj:
        """Store an object as the API server would (test set-up; not recorded as a write)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if BY_KIND[obj["kind"]].namespaced:
            meta.setdefault("namespace", "default")
        ref = self._ref(obj["kind"], meta.get("namespace"), meta["name"])
        old = self.objects.get(ref)
        meta["uid"] = (
            old["metadata"]["uid"]
            if old
            else meta.get("uid") or f"uid-{obj['kind'].lower()}-{meta['name']}"
        )
        meta["resourceVersion"] = str(next(self._counter))
        meta.setdefault("generation", 1)
        if old is not None and "status" in old and "status" not in obj:
            obj["status"] = old["status"]
        self.objects[ref] = obj
        return copy.deepcopy(obj)

    def of_kind(self, kind: str) -> dict[str, Obj]:
        """Stored objects of one kind by name."""
        return {ref[2]: obj for ref, obj in self.objects.items() if ref[0] == kind}

    def written(self, verb: str) -> list[tuple[str, str]]:
        """(kind, name) of the writes of one verb, in order."""
        return [(kind, name) for v, kind, name in self.writes if v == verb]

    # --- Kube's interface --------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        found = self.objects.get(self._ref(kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, kind: str, namespace: str | None, selector: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self.objects.items(), key=lambda i: str(i[0]))
            if k == kind
            and (namespace is None or ns is None or ns == namespace)
            and matches(obj["metadata"].get("labels") or {}, selector)
        ]

    def apply(self, obj: Obj) -> Obj:
        status = self.refuse.get((obj["kind"], obj["metadata"]["name"]))
        if status is not None:
            raise KubeError(status, "PATCH", obj["metadata"]["name"], '{"message": "refused"}')
        self.writes.append(("apply", obj["kind"], obj["metadata"]["name"]))
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        ref = self._ref(obj["kind"], meta.get("namespace") or "default", meta["name"])
        for part, values in self.patched.get(ref, {}).items():
            meta[part] = {**values, **(meta.get(part) or {})}
        return self.put(obj)

    def apply_status(self, obj: Obj) -> None:
        meta = obj["metadata"]
        ref = self._ref(obj["kind"], meta.get("namespace"), meta["name"])
        self.writes.append(("status", obj["kind"], meta["name"]))
        self.objects[ref]["status"] = copy.deepcopy(obj["status"])
        self.objects[ref]["metadata"]["resourceVersion"] = str(next(self._counter))

    def patch(
        self, kind: str, namespace: str, name: str, body: Obj, field_manager: str = ""
    ) -> None:
        """A JSON merge patch of metadata labels and annotations (None removes a key)."""
        ref = self._ref(kind, namespace, name)
        self.writes.append(("patch", kind, name))
        meta = self.objects[ref]["metadata"]
        for part in ("labels", "annotations"):
            for key, value in ((body.get("metadata") or {}).get(part) or {}).items():
                owned = self.patched.setdefault(ref, {}).setdefault(part, {})
                if value is None:
                    meta.setdefault(part, {}).pop(key, None)
                    owned.pop(key, None)
                else:
                    meta.setdefault(part, {})[key] = value
                    owned[key] = value
        meta["resourceVersion"] = str(next(self._counter))

    def delete(self, kind: str, namespace: str | None, name: str, uid: str | None = None) -> None:
        ref = self._ref(kind, namespace, name)
        found = self.objects.get(ref)
        if found is None or (uid is not None and found["metadata"]["uid"] != uid):
            return
        self.writes.append(("delete", kind, name))
        del self.objects[ref]
