"""The reserved request parameters (Triton's parameters extension), pure: each works here or is
refused with a reason, never accepted and ignored.

- `timeout` (microseconds; 0 or absent: none) bounds this request, as the server's
  `--request-timeout` does: the earlier of the two applies, and running out is a 504.
- `priority` 0 is the default and the only one: this server has no priority levels.
- `sequence_id` (0 or ""), `sequence_start` and `sequence_end` (false) are the defaults and
  the only ones: this server has no sequence batching, every request stands alone.

- `shared_memory_region`, `shared_memory_byte_size`, `shared_memory_offset` on an input or
  an output (Triton's shared-memory extensions) are refused: this server has no shared
  memory; tensors travel in the request and the answer.

Every other parameter is the model's or the client's own and travels on untouched (a Python
model reads the request's; the answer echoes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelplane.edge.v2 import timeout_seconds
from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.protocol.types import InferenceRequest

_NO_SEQUENCES = "this server has no sequence batching: every request stands alone"
SHARED_MEMORY = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")
_NO_SHARED_MEMORY = (
    "this server has no shared memory (Triton's system and CUDA shared-memory extensions are "
    "not among its extensions)"
)


@dataclass(frozen=True)
class RequestOptions:
    """What a request's reserved parameters ask of the server."""

    timeout: float | None = None  # seconds

    def deadline(self, server: float | None) -> float | None:
        """The seconds this request may take: the earlier of its own and the server's."""
        if self.timeout is None:
            return server
        return self.timeout if server is None else min(self.timeout, server)

    def whose(self, seconds: float | None) -> str:
        """Which limit `seconds` (from `deadline`) is, for the answer that it ran out."""
        own = self.timeout is not None and seconds == self.timeout
        return "the request's timeout parameter" if own else "the server's --request-timeout"


NONE = RequestOptions()


def request_options(parameters: dict[str, Any] | None) -> RequestOptions:
    """The request's reserved parameters, checked (InvalidInput naming the one refused)."""
    if not parameters:
        return NONE
    _only_default(
        parameters,
        "priority",
        (0,),
        "this server has no priority levels: requests are served in arrival order",
    )
    _only_default(parameters, "sequence_id", (0, ""), _NO_SEQUENCES)
    _only_default(parameters, "sequence_start", (False,), _NO_SEQUENCES)
    _only_default(parameters, "sequence_end", (False,), _NO_SEQUENCES)
    try:
        seconds = timeout_seconds(parameters)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return NONE if seconds is None else RequestOptions(timeout=seconds)


def _only_default(
    parameters: dict[str, Any], name: str, defaults: tuple[Any, ...], why: str
) -> None:
    if name not in parameters:
        return
    value = parameters[name]
    if any(type(value) is type(d) and value == d for d in defaults):
        return
    shown = " or ".join(repr(d) if isinstance(d, str) else str(d).lower() for d in defaults)
    raise InvalidInput(f"parameters.{name}: {why} (send {shown}, or leave it out; got {value!r})")


def refuse_shared_memory(request: InferenceRequest) -> None:
    """InvalidInput when an input or output names a shared-memory region: accepted, its
    data would be read from nowhere or written where the client does not look."""
    for inp in request.inputs:
        if inp.parameters:
            _no_shared_memory(f"input {inp.name!r}", inp.parameters, "send its data in the request")
    for out in request.outputs or ():
        if out.parameters:
            _no_shared_memory(
                f"output {out.name!r}", out.parameters, "its data comes in the answer"
            )


def _no_shared_memory(tensor: str, parameters: dict[str, Any], instead: str) -> None:
    named = [p for p in SHARED_MEMORY if p in parameters]
    if named:
        raise InvalidInput(
            f"{tensor}: parameters.{named[0]}: {_NO_SHARED_MEMORY}; {instead}, "
            f"without {', '.join(named)}"
        )
