"""The graph's answer, pure: named for the graph, saying which steps ran, in the client's form.

A V2 response leaving the router carries the graph's name as ``model_name`` and a parameter
``graph_steps`` (``node/step,...``: the steps that answered, in order), so a client can tell
a graph's answer from a model's. Anything that is not a V2 response (a V1 answer, an error
document, an Ensemble map through ``POST /``) leaves as it came.
"""

from __future__ import annotations

from typing import Any

from modelplane.router import jsonio, tensors
from modelplane.router.errors import NotV2
from modelplane.router.forms import OutputForms
from modelplane.router.payload import Payload
from modelplane.router.tensors import is_v2_response

STEPS_PARAMETER = "graph_steps"
# On a gRPC stream, which has no trailers per answer, the Soft steps that failed
# (`headers.SOFT_FAILURES` elsewhere) are named in this parameter of the answer.
SOFT_FAILURES_PARAMETER = "graph_soft_failures"


def output_forms(request: Payload) -> OutputForms:
    """The forms a REST client asked its outputs in: binary by default when it sent binary
    or set ``binary_data_output``, each requested output's ``binary_data`` for that name."""
    default = request.header_length is not None
    document = request.json_or_none()
    if not isinstance(document, dict):
        return OutputForms(default)
    parameters = document.get("parameters")
    if isinstance(parameters, dict) and parameters.get(tensors.BINARY_OUTPUT) is True:
        default = True
    by_name = {}
    outputs = document.get("outputs")
    for asked in outputs if isinstance(outputs, list) else ():
        given = asked.get("parameters") if isinstance(asked, dict) else None
        if isinstance(given, dict) and isinstance(given.get(tensors.BINARY_DATA), bool):
            by_name[str(asked.get("name"))] = given[tensors.BINARY_DATA]
    return OutputForms(default, by_name)


def rest_answer(answer: Payload, graph: str, steps: list[str], forms: OutputForms) -> Payload:
    """A REST answer: a V2 response renamed for the graph, its raw tensors binary where the
    client asked (`forms`); a gRPC message converted."""
    if answer.message is not None:
        v2 = _as_response(tensors.from_message(answer.message))
        _name(v2, graph, steps)
        return Payload.of_v2(v2, forms)
    document = answer.json_or_none()
    if not is_v2_response(document) or isinstance(document.get("inputs"), list):
        return answer
    if answer.header_length is not None and not _as_asked(document["outputs"], forms):
        # a step answered binary (it was fed raw tensors, or the client asked for some of
        # them binary); outputs the client asked for as JSON are decoded
        decoded = answer.v2()
        if decoded is not None:
            _name(decoded, graph, steps)
            return Payload.of_v2(decoded, forms)
    parameters = document.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        tensors.check_answer(document)  # named (ChainError), not written over
    named = document  # parsed for this answer alone: renamed in place
    named["model_name"] = graph
    named.pop("model_version", None)
    ran = steps[0] if len(steps) == 1 else ",".join(steps)
    named["parameters"] = (
        {**parameters, STEPS_PARAMETER: ran} if parameters else {STEPS_PARAMETER: ran}
    )
    header = jsonio.dumps(named)
    if answer.header_length is None:
        return Payload(header, named)
    tail = answer.body[answer.header_length :]
    return Payload(header + tail, named, answer.content_type, len(header))


def _as_asked(outputs: list[Any], forms: OutputForms) -> bool:
    """Whether every binary output of an answer is one the client asked for as binary."""
    return all(
        forms.binary(str(out.get("name")))
        for out in outputs
        if isinstance(out, dict) and tensors.BINARY_SIZE in (out.get("parameters") or {})
    )


def grpc_answer(answer: Payload, graph: str, steps: list[str]) -> Any:
    """A ModelInferResponse named for the graph; NotV2 when the answer holds no V2 tensors."""
    message = answer.message
    if tensors.is_response_message(message):
        message.model_name = graph
        message.model_version = ""
        message.parameters[STEPS_PARAMETER].string_param = ",".join(steps)
        return message
    v2 = answer.v2()
    if v2 is None:
        raise NotV2("the graph's answer is not a V2 inference response")
    v2 = _as_response(v2)
    _name(v2, graph, steps)
    return tensors.to_message(v2)


def _as_response(v2: tensors.V2) -> tensors.V2:
    # A Sequence whose first condition fails answers with its input: its tensors, as outputs.
    if v2.kind == "request":
        return tensors.V2("response", v2.tensors, id=v2.id)
    return v2


def _name(v2: tensors.V2, graph: str, steps: list[str]) -> None:
    v2.model_name = graph
    v2.model_version = None
    v2.parameters = {**(v2.parameters or {}), STEPS_PARAMETER: ",".join(steps)}
