"""An Ensemble's answer: its members' answers, each kept in the form it came in.

Through ``POST /`` an Ensemble answers the map ``{step: answer}`` (JSON: a binary or gRPC
member's tensors decoded into it). On the V2 routes, and as the input of a next step, it is
one V2 response whose outputs are the members' named ``<step>.<output>`` (Soft-failed members
left out), merged from the members' tensors as they came: raw bytes stay raw, so a client
that asks for binary data or calls over gRPC gets the members' bits (BYTES that are not UTF-8
included), and nothing is decoded to JSON unless the answer is written as JSON.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelplane.router import tensors
from modelplane.router.errors import NotJSON
from modelplane.router.payload import Payload

_NOT_MERGED = object()


class EnsembleAnswer(Payload):
    """The members' payloads in step order; `failed` are the Soft-failed ones (errors)."""

    __slots__ = ("_merged", "failed", "members")

    def __init__(self, members: dict[str, Payload], failed: frozenset[str]) -> None:
        super().__init__(b"")
        self._body = None  # written from the map when first asked for
        self.members = members
        self.failed = failed
        self._merged: object = _NOT_MERGED

    def json(self) -> Any:
        """The map ``{step: answer}``; raises ChainError when a tensor JSON cannot carry is in it."""
        if not self.parsed:
            self._value = {key: _entry(member) for key, member in self.members.items()}
        return self._value

    def v2(self) -> tensors.V2 | None:
        """The members' V2 responses merged into one, else None (a member answered otherwise)."""
        if self._merged is _NOT_MERGED:
            self._merged = merge({k: m for k, m in self.members.items() if k not in self.failed})
        merged: tensors.V2 | None = self._merged  # type: ignore[assignment]
        return merged


def merge(answers: dict[str, Payload]) -> tensors.V2 | None:
    """V2 responses as one, outputs named ``<key>.<output>``, tensors in their own form.

    It keeps the request's `id`, which every member echoed (a client matching answers to
    requests by id, as perf_analyzer does on a gRPC stream, waits for it). None when there is
    no answer or one is not a V2 response.
    """
    outputs: list[tensors.Tensor] = []
    echoed = None
    for key, answer in answers.items():
        v2 = answer.v2()
        if v2 is None or v2.kind != "response":
            return None
        outputs.extend(replace(t, name=f"{key}.{t.name}") for t in v2.tensors)
        if echoed is None and v2.id:
            echoed = v2.id
    if not outputs:
        return None
    return tensors.V2("response", outputs, id=echoed)


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
