"""What a step or node produced: a status and a body, a response or an error document."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelplane.router import jsonio
from modelplane.router.errors import error_document, is_error_document
from modelplane.router.payload import Payload

_MAX_CAUSE = 2000


@dataclass(slots=True)
class StepResult:
    """A step's (or a node's, or the graph's) answer: its status and its body."""

    status: int
    payload: Payload
    fatal: bool = False  # the overall deadline passed: no dependency rule can carry on
    soft_failures: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # the graph's steps that answered, in order

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300


def failure(
    status: int, error: str, cause: str, step: str | None, *, fatal: bool = False
) -> StepResult:
    """A result carrying an error in the router's format."""
    return StepResult(status, Payload.of(error_document(error, cause, step)), fatal=fatal)


def upstream_failure(status: int, body: bytes, step: str) -> StepResult:
    """A non-2xx answer from a step's upstream, wrapped (or passed through if already ours)."""
    try:
        document = jsonio.loads(body)
    except jsonio.JSONDecodeError:
        document = None
    if is_error_document(document):
        return StepResult(status, Payload(body, document))
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        cause = document["error"]
    else:
        cause = body.decode("utf-8", "replace")
    return failure(status, f"step {step} failed with status {status}", cause[:_MAX_CAUSE], step)
