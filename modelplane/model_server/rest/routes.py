"""Pure REST routing: (method, path) to an endpoint name with the model and version in it."""

from __future__ import annotations

from dataclasses import dataclass

from modelplane.model_server.errors import MethodNotAllowed, RouteNotFound


@dataclass(frozen=True)
class Route:
    """A matched V2 endpoint."""

    endpoint: str
    model: str | None = None
    version: str | None = None


_MODEL_ACTIONS = {"ready": "GET", "infer": "POST", "config": "GET", "stats": "GET"}


def match(method: str, path: str) -> Route:
    """The V2 endpoint for `method` and `path`; RouteNotFound or MethodNotAllowed otherwise."""
    parts = path.strip("/").split("/")
    route, want = _route(parts)
    if route is None:
        raise RouteNotFound(f"no such endpoint: {path}")
    if method != want and not (method == "HEAD" and want == "GET"):
        raise MethodNotAllowed(f"{path} takes {want}, not {method}")
    return route


def _route(parts: list[str]) -> tuple[Route | None, str]:
    if not parts or parts[0] != "v2":
        return None, ""
    rest = parts[1:]
    if not rest:
        return Route("server_metadata"), "GET"
    head = rest[0]
    if rest == ["openapi.json"]:  # the REST API's OpenAPI schema
        return Route("openapi"), "GET"
    if head == "docs" and len(rest) <= 2:  # Swagger UI and its assets
        return Route("docs"), "GET"
    if head == "health" and len(rest) == 2 and rest[1] in ("live", "ready"):
        return Route(f"health_{rest[1]}"), "GET"
    if rest == ["models", "stats"]:  # Triton's statistics of every model
        return Route("model_stats"), "GET"
    if head == "models" and len(rest) >= 2 and rest[1]:
        return _model_route(rest[1], rest[2:])
    if head == "repository":
        if rest[1:] == ["index"]:
            return Route("repository_index"), "POST"
        if len(rest) == 4 and rest[1] == "models" and rest[3] in ("load", "unload") and rest[2]:
            return Route(f"repository_{rest[3]}", model=rest[2]), "POST"
    return None, ""


def _model_route(model: str, tail: list[str]) -> tuple[Route | None, str]:
    version = None
    if len(tail) >= 2 and tail[0] == "versions" and tail[1]:
        version, tail = tail[1], tail[2:]
    if not tail:
        return Route("model_metadata", model, version), "GET"
    if len(tail) == 1 and tail[0] in _MODEL_ACTIONS:
        return Route(f"model_{tail[0]}", model, version), _MODEL_ACTIONS[tail[0]]
    return None, ""
