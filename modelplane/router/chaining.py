"""V2-aware chaining, pure: a previous V2 response's outputs become the next request's inputs
(and a Sequence that ended early answers only what was asked of its last step)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from modelplane.router import tensors
from modelplane.router.ensemble import EnsembleAnswer, prefixed_outputs
from modelplane.router.errors import ChainError, UnknownOutput, is_error_document
from modelplane.router.graph import Node, Step
from modelplane.router.payload import Payload
from modelplane.router.result import StepResult, failure
from modelplane.router.tensors import is_v2_response
from modelplane.router.wellformed import is_request

_TENSOR_FIELDS = ("name", "datatype", "shape", "data")


def v2_outputs(document: Any) -> list[dict[str, Any]] | None:
    """The output tensors of a V2 response, or of an Ensemble map of V2 responses.

    An Ensemble map's outputs are named ``<step>.<output>``; its soft-failed members (error
    documents) are left out. Anything else gives None.
    """
    if is_v2_response(document):
        outputs: list[dict[str, Any]] = document["outputs"]
        return outputs
    if not isinstance(document, dict):
        return None
    members = {k: v for k, v in document.items() if not is_error_document(v)}
    return prefixed_outputs(members) if members else None


def outputs_to_request(
    outputs: list[dict[str, Any]],
    mapping: Mapping[str, str] | None,
    request_id: Any = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A V2 request whose inputs are the given outputs, renamed (and filtered) by the mapping,
    with the request-level `parameters` given."""
    inputs = []
    for out in outputs:
        name = out["name"]
        if mapping is not None:
            if name not in mapping:
                continue
            name = mapping[name]
        tensor = {f: out[f] for f in _TENSOR_FIELDS if f in out}
        tensor["name"] = name
        inputs.append(tensor)
    if mapping is not None:
        missing = sorted(set(mapping) - {o["name"] for o in outputs})
        if missing:
            raise ChainError(f"previous response has no output named {', '.join(missing)}")
    request: dict[str, Any] = {"inputs": inputs}
    if request_id is not None:
        request["id"] = request_id
    if parameters:
        request["parameters"] = parameters
    return request


def rename_inputs(document: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A V2 request with its inputs renamed (and filtered) by the mapping."""
    inputs = document["inputs"]
    missing = sorted(set(mapping) - {i.get("name") for i in inputs})
    if missing:
        raise ChainError(f"request has no input named {', '.join(missing)}")
    renamed = [{**i, "name": mapping[i["name"]]} for i in inputs if i.get("name") in mapping]
    return {**document, "inputs": renamed}


def next_request(step: Step, original: Payload, previous: Payload | None) -> Payload:
    """The body a step receives: the node's input, or the previous response (``$response``).

    A V2 response becomes a V2 request (outputs to inputs), renamed by the step's mapping,
    that carries the client's request parameters (`carried`); a V2 request is renamed by the
    mapping when there is one; anything else, and any input a step takes as it is, passes
    through byte for byte.
    """
    source = previous if step.data == "$response" and previous is not None else original
    if source is original and step.mapping is None:
        return original
    params = carried(original) if source is not original else None
    if source.message is not None or source.header_length is not None:
        return _chain_raw(source, step.mapping, params)
    if isinstance(source, EnsembleAnswer) and source.v2() is not None:
        return _chain_raw(source, step.mapping, params)  # the members' tensors, as they are
    document = source.json_or_none()
    outputs = v2_outputs(document)
    if outputs is not None:
        request = outputs_to_request(outputs, step.mapping, document.get("id"), params)
        return Payload.of(request)
    if step.mapping is None:
        return source
    if isinstance(document, dict) and isinstance(document.get("inputs"), list):
        return Payload.of(rename_inputs(document, step.mapping))
    raise ChainError("mapping is set but the input is neither a V2 response nor a V2 request")


def carried(original: Payload) -> dict[str, Any] | None:
    """The client's request parameters every step's request carries, as Triton's ensembles
    forward theirs to each composing model: all but `binary_data_output`, which asks for the
    graph's answer in a form (the router asks each step for the form it chains in)."""
    given = original.request_parameters()
    if not given:
        return None
    return {k: v for k, v in given.items() if k != tensors.BINARY_OUTPUT} or None


def _chain_raw(
    source: Payload, mapping: Mapping[str, str] | None, params: dict[str, Any] | None = None
) -> Payload:
    """Chain a gRPC message, a binary-extension body or an Ensemble's answer in its own form:
    tensors stay raw; a response becomes a request with the request `params`."""
    v2 = source.v2()
    if v2 is None:
        raise ChainError("the previous answer is not a V2 response or request")
    if v2.kind == "response":
        v2 = dataclasses.replace(tensors.response_to_request(v2, mapping), parameters=params)
    elif mapping is not None:
        v2 = tensors.rename_request(v2, mapping)
    else:
        return source
    if source.message is not None:
        return Payload.of_message(tensors.to_message(v2))
    # binary when the tensors are raw (an Ensemble of JSON answers chains as JSON)
    raw = source.header_length is not None or any(t.raw is not None for t in v2.tensors)
    return Payload.of_v2(v2, binary=raw)


def _asking(request: Payload) -> tensors.V2 | None:
    """The V2 request when its client asked for outputs by name, else None (parsed once)."""
    message = request.message
    if message is not None:
        if not len(message.outputs):
            return None
    # the common case costs one scan, no parse; a body that is no V2 request is the
    # upstream's to refuse
    elif not request.may_name(b'"outputs"') or not is_request(request.json_or_none()):
        return None
    v2 = request.v2()
    if v2 is None or v2.kind != "request" or not v2.outputs:
        return None
    return v2


def split_outputs(request: Payload) -> tuple[list[dict[str, Any]] | None, Payload]:
    """The outputs a client asked for by name (each with its parameters; None when it asked
    none), and the request asking for every output instead, in its own form."""
    v2 = _asking(request)
    if v2 is None or v2.outputs is None:
        return None, request
    return list(v2.outputs), _in_form_of(request, dataclasses.replace(v2, outputs=None))


def with_outputs(request: Payload, outputs: list[dict[str, Any]] | None) -> Payload:
    """The request asking for `outputs` (None: for every output), in its own form.

    A Sequence asks its last step for the outputs its client asked for, and the steps before
    it for every output: the names are the graph's answer's, which only the last model has.
    """
    v2 = request.v2()
    if v2 is None or v2.kind != "request" or v2.outputs == outputs:
        return request
    return _in_form_of(request, dataclasses.replace(v2, outputs=outputs))


def only_asked(answer: Payload, asked: list[dict[str, Any]]) -> Payload | None:
    """An answer holding just the outputs a client asked for by name, in the order asked and
    in the answer's own form; None when it lacks one, is not a V2 response, or one is asked
    as classes (which only the model that was asked could give).

    A Sequence asks its last step for them; when its answer is an earlier step's (the last
    failed as Soft, or a condition ended the Sequence), this is what can be given instead.
    """
    v2 = answer.v2()
    if v2 is None or v2.kind != "response":
        return None
    by_name = {t.name: t for t in v2.tensors}
    picked = []
    for wanted in asked:
        name = wanted.get("name")
        parameters = wanted.get("parameters")
        if not isinstance(name, str) or name not in by_name:
            return None
        if isinstance(parameters, dict) and parameters.get("classification") is not None:
            return None
        picked.append(by_name[name])
    v2 = dataclasses.replace(v2, tensors=picked)
    if answer.message is not None:
        return Payload.of_message(tensors.to_message(v2))
    return Payload.of_v2(v2, binary=answer.header_length is not None)


def _in_form_of(request: Payload, v2: tensors.V2) -> Payload:
    """A V2 request in the form `request` came in: a gRPC message, binary, or JSON."""
    if request.message is not None:
        return Payload.of_message(tensors.to_message(v2))
    return Payload.of_v2(v2, binary=request.header_length is not None)


def ensemble_requests(steps: Sequence[Step], request: Payload) -> dict[str, Payload] | None:
    """Each Ensemble member's request when the client asked for outputs by the names the
    Ensemble answers with (``<step>.<output>``): a member gets its own, unprefixed, and a
    member none of whose outputs were asked for is left out (key absent). None when no asked
    name is a member's (every member gets the request as it came, as before); UnknownOutput
    when some are and others are not (nothing could answer those)."""
    v2 = _asking(request)
    if v2 is None or v2.outputs is None:
        return None
    keys = [s.key for s in steps]
    wanted: dict[str, list[dict[str, Any]]] = {}
    strays = []
    for asked in v2.outputs:
        name = asked.get("name") if isinstance(asked, dict) else None
        if not isinstance(name, str):
            continue
        key, _, rest = name.partition(".")
        if rest and key in keys:
            wanted.setdefault(key, []).append({**asked, "name": rest})
        else:
            strays.append(name)
    if not wanted:
        return None
    if strays:
        raise UnknownOutput(
            f"requested output {', '.join(map(repr, strays))} is not named <step>.<output> "
            f"after a step of this Ensemble ({', '.join(keys)})"
        )
    return {
        key: _in_form_of(request, dataclasses.replace(v2, outputs=outputs))
        for key, outputs in wanted.items()
    }


def earlier_answer(
    node: Node,
    current: StepResult,
    answered: Step | None,
    asked: list[dict[str, Any]],
    ended: Step | None,
    failed: StepResult | None,
) -> StepResult:
    """A Sequence's answer when it is not its last step's, though the client asked for outputs
    by name (which only the last step was asked for): that answer with just those outputs, or,
    when it lacks one, the last step's failure, or a 400 naming what is missing. Never another
    step's other outputs under a 200 as if they had been asked for."""
    picked = only_asked(current.payload, asked)
    if picked is not None:
        return StepResult(current.status, picked)
    if ended is None and failed is not None:
        return failed  # the last step failed (Soft): its failure says why
    names = ", ".join(repr(a.get("name")) for a in asked)
    where = answered.label if answered is not None else node.name
    why = f"the condition of step {ended.label} ended the sequence" if ended else "it ended"
    return failure(
        400,
        "unknown requested output",
        f"requested output {names} is not in the answer of step {where}, which is the "
        f"graph's answer because {why}; only the last step's outputs can be asked for by "
        "name, and it did not run",
        node.name,
    )
