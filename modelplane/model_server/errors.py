"""The model server's one error hierarchy; transports map it to HTTP and gRPC codes at the edges.

ModelServerError                 500  INTERNAL
├── InvalidInput                 400  INVALID_ARGUMENT   (names the offending field)
│   ├── PayloadTooLarge          413  RESOURCE_EXHAUSTED
│   └── UnsupportedMediaType     415  INVALID_ARGUMENT   (a content-encoding not taken; the
│                                                         answer's Accept-Encoding names those taken)
├── NotFound                     404  NOT_FOUND
│   ├── ModelNotFound                 (unknown model or version)
│   └── RouteNotFound                 (unknown REST path)
├── MethodNotAllowed             405  UNIMPLEMENTED
├── ModelLoadFailed              400  FAILED_PRECONDITION (reason from the backend)
├── Unavailable                  503  UNAVAILABLE
│   ├── ModelNotReady                 (not loaded, loading, or its load failed)
│   └── QueueFull                     (the batch queue holds max_queue_size requests)
├── DeadlineExceeded             504  DEADLINE_EXCEEDED  (--request-timeout, batching.timeout)
└── InferenceFailed              500  INTERNAL           (the backend raised)

The shared HTTP edge's body errors (modelplane.edge.errors) become InvalidInput,
PayloadTooLarge and UnsupportedMediaType in the REST edge; an error's `headers` go out with
its answer. Outside the tree, never answered: the edge's
ClientDisconnected (nobody is left to answer) and the batcher's SplitError (a model bug,
answered as InferenceFailed).
"""

from __future__ import annotations

from modelplane.edge.encoding import ACCEPT_ENCODING


class ModelServerError(Exception):
    """Base of every error the server reports to a client."""

    http_status = 500
    grpc_code = "INTERNAL"
    headers: tuple[tuple[bytes, bytes], ...] = ()  # sent with the REST answer

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ModelServerError):
    """The request is malformed or does not fit the model."""

    http_status = 400
    grpc_code = "INVALID_ARGUMENT"


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the configured limit."""

    http_status = 413
    grpc_code = "RESOURCE_EXHAUSTED"


class UnsupportedMediaType(InvalidInput):
    """The request body's content-encoding is not one this server takes."""

    http_status = 415
    headers = (ACCEPT_ENCODING,)


class NotFound(ModelServerError):
    """Something named in the request does not exist."""

    http_status = 404
    grpc_code = "NOT_FOUND"


class ModelNotFound(NotFound):
    """Unknown model or model version."""


class RouteNotFound(NotFound):
    """Unknown REST path."""


class MethodNotAllowed(ModelServerError):
    """Known path, wrong HTTP method."""

    http_status = 405
    grpc_code = "UNIMPLEMENTED"


class ModelLoadFailed(ModelServerError):
    """A model could not be loaded; the message carries the backend's reason."""

    http_status = 400
    grpc_code = "FAILED_PRECONDITION"


class Unavailable(ModelServerError):
    """The server or model cannot serve right now."""

    http_status = 503
    grpc_code = "UNAVAILABLE"


class ModelNotReady(Unavailable):
    """The model exists but is not loaded."""


class QueueFull(Unavailable):
    """The model's batch queue is at max_queue_size (retry later, or add replicas)."""


class DeadlineExceeded(ModelServerError):
    """The request did not finish within its timeout."""

    http_status = 504
    grpc_code = "DEADLINE_EXCEEDED"


class InferenceFailed(ModelServerError):
    """The backend raised while running the model."""
