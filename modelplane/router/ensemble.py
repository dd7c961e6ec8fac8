"""An Ensemble's answer: its members' answers, each kept in the form it came in.

Through ``POST /`` an Ensemble answers the map ``{step: answer}`` (JSON: a binary or gRPC
member's tensors decoded into it). On the V2 routes, and as the input of a next step, it is
one V2 response whose outputs are the members' named ``<step>.<output>`` (Soft-failed members
left out), with the request's `id`, which every member echoed (a client matching answers to
requests by id, as perf_analyzer does on a gRPC stream, waits for it).

Members that answered in JSON merge as JSON documents (the cheapest way for them); otherwise
the merge takes each member's tensors as they came: raw bytes stay raw, so a client that asks
for binary data or calls over gRPC gets the members' bits (BYTES that are not UTF-8
included), and nothing is decoded to JSON unless the answer is written as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from modelplane.router import tensors
from modelplane.router.errors import NotJSON
from modelplane.router.forms import OutputForms
from modelplane.router.payload import Payload

_NOT_MERGED: Any = object()


class EnsembleAnswer(Payload):
    """The members' payloads in step order; `failed` are the Soft-failed ones (errors)."""

    __slots__ = ("_merged", "failed", "members")

    def __init__(self, members: dict[str, Payload], failed: frozenset[str]) -> None:
        super().__init__(b"")
        self._body = None  # written from the map when first asked for
        self.members = members
        self.failed = failed
        self._merged: tensors.V2 | None = _NOT_MERGED

    def json(self) -> Any:
        """The map ``{step: answer}``; raises ChainError when a tensor JSON cannot carry is in it."""
        if not self.parsed:
            self._value = {key: _entry(member) for key, member in self.members.items()}
        return self._value

    def v2(self) -> tensors.V2 | None:
        """The members' V2 responses merged into one, else None (a member answered otherwise)."""
        if self._merged is _NOT_MERGED:
            self._merged = merge(self._answered())
        return self._merged

    def response(self, forms: Callable[[], OutputForms]) -> Payload | None:
        """The merged V2 response as a REST payload (None: a member's answer is not V2): a JSON
        document when every member answered JSON, else with raw tensors in the binary
        extension where `forms()` (what the client asked for) says so, the rest JSON."""
        answered = self._answered()
        if all(_plain_json(m) for m in answered.values()):
            documents = {key: m.json_or_none() for key, m in answered.items()}
            outputs = prefixed_outputs(documents) if documents else None
            if outputs is None:
                return None
            merged: dict[str, Any] = {"model_name": None, "outputs": outputs}  # named later
            echoed = _echoed(d.get("id") for d in documents.values())
            if echoed is not None:
                merged["id"] = echoed
            return Payload.of(merged)
        v2 = self.v2()
        return None if v2 is None else Payload.of_v2(v2, forms())

    def _answered(self) -> dict[str, Payload]:
        if not self.failed:
            return self.members
        return {k: m for k, m in self.members.items() if k not in self.failed}


def _plain_json(member: Payload) -> bool:
    """A member whose answer is a JSON document (not raw tensors, nor a nested Ensemble's)."""
    return (
        member.message is None
        and member.header_length is None
        and (not isinstance(member, EnsembleAnswer))
    )


def prefixed_outputs(documents: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """JSON V2 responses' outputs as one list named ``<key>.<output>``; None when one is not
    a V2 response."""
    if not all(map(tensors.is_v2_response, documents.values())):
        return None
    return [
        {**out, "name": f"{key}.{out['name']}"}
        for key, document in documents.items()
        for out in document["outputs"]
    ]


def merge(answers: Mapping[str, Payload]) -> tensors.V2 | None:
    """V2 responses as one, outputs named ``<key>.<output>``, tensors in their own form; None
    when there is no answer or one is not a V2 response."""
    outputs: list[tensors.Tensor] = []
    ids = []
    for key, answer in answers.items():
        v2 = answer.v2()
        if v2 is None or v2.kind != "response":
            return None
        outputs.extend(replace(t, name=f"{key}.{t.name}") for t in v2.tensors)
        ids.append(v2.id)
    if not outputs:
        return None
    return tensors.V2("response", outputs, id=_echoed(ids))


def _echoed(ids: Any) -> Any:
    return next((i for i in ids if i), None)


def _entry(payload: Payload) -> object:
    """A member's entry in the map: its JSON value (a binary or gRPC answer's tensors decoded
    into it: a binary header alone has no data), or its body as text when it is not JSON."""
    if payload.header_length is not None:
        v2 = payload.v2()
        if v2 is not None:
            return tensors.to_document(v2)
    try:
        return payload.json()
    except NotJSON:
        return payload.body.decode("utf-8", "replace")
