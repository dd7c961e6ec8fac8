"""The router's errors, one tree, and the one error format of every non-2xx answer.

RouterError                            status: the HTTP answer it becomes
├── GraphError                    -    the graph cannot run: `modelplane router` exits 2 at start
├── NotJSON                       400  a body is not JSON where a decision must read it
├── NotV2                         400  a gRPC step or the gRPC answer needs V2 tensors, the body has none
│   └── MalformedV2               400  a V2 document the router must read has a field of the wrong type
├── ChainError                    500  a step's input cannot be built from what came before it
├── UnknownOutput                 400  an Ensemble is asked for an output none of its steps answers
├── Undescribed                   502  a step's model cannot be read for the graph's signature
├── ConnectionFailed              -    one attempt got no HTTP answer (the transport's error; retried)
└── StepFailed                         a step's upstream gave no answer
    ├── Unreachable               502  connection errors after every retry
    ├── StepTimeout               504  one attempt took longer than the step's timeout
    └── GraphDeadlineExceeded     504  the graph's deadline passed: the whole graph stops

Reading the request body is the HTTP edge's (`modelplane.edge`): its refusals (413 too
large, 431, 400; a content coding that does not decode, BodyRejected) are answered in the
format below and counted; a client that leaves before its body is whole is never answered.

Every answer the router gives that is not 2xx has the body ``{"error", "cause", "step"}``
(`error_document`); an upstream's own error is wrapped with its status kept, and an error
already in this format (a nested router's) passes through unchanged. A failed step is a value
(`result.StepResult`), not an exception, once it leaves the call that failed.
"""

from __future__ import annotations

from typing import Any


class RouterError(Exception):
    """Base of every error the router raises."""

    status = 500


class GraphError(RouterError, ValueError):
    """The graph file is not a runnable graph; the message names the node and step."""


class NotJSON(RouterError, ValueError):
    """A body is not valid JSON; `summary` is the answer's `error` line."""

    status = 400
    summary = "request body is not JSON"


class NotV2(RouterError, ValueError):
    """A body that must be a V2 inference request or response (to speak gRPC) is not one."""

    status = 400


class MalformedV2(NotV2):
    """A V2 document the router converts or reads has a field of the wrong type (named)."""

    status = 400


class ChainError(RouterError, ValueError):
    """The previous answer cannot feed the next step (e.g. a mapped output is missing)."""


class UnknownOutput(RouterError, ValueError):
    """A request asks an Ensemble for an output that is not ``<step>.<output>`` of it."""

    status = 400


class Undescribed(RouterError):
    """A step's model could not be read for the graph's signature: unreachable, or not a V2
    model; the message names the step."""

    status = 502


class ConnectionFailed(RouterError):
    """One attempt did not get an HTTP answer (refused, reset, closed early)."""


class StepFailed(RouterError):
    """A step's upstream gave no answer."""


class Unreachable(StepFailed):
    """The upstream could not be reached (connection errors) after every attempt."""

    status = 502


class StepTimeout(StepFailed):
    """An attempt took longer than the step's timeout."""

    status = 504


class GraphDeadlineExceeded(StepFailed):
    """The graph's overall deadline passed."""

    status = 504


def error_document(error: str, cause: str, step: str | None) -> dict[str, Any]:
    """The error body as a value."""
    return {"error": error, "cause": cause, "step": step}


def is_error_document(value: Any) -> bool:
    """Whether a JSON value is an error in the router's format (a nested router's, say)."""
    return isinstance(value, dict) and {"error", "cause", "step"} <= value.keys()
