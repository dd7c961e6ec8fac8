"""Pure checks of the repository extension's load and unload parameters, each refusal naming its field.

Load: `config` (Triton's model configuration, JSON text), `storage_uri` (register the model:
pull it from there), `memory` (its declared size in bytes), `lazy` (register without loading).
Unload: `unregister` (forget the registration and delete the pulled files) and
`unload_dependents` (tritonclient sends it; there are no dependents to unload).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelplane.model_server.errors import InvalidInput
from modelplane.storage.uri import REMOTE_SCHEMES, parse

LOAD_PARAMETERS = ("config", "storage_uri", "memory", "lazy")
# tritonclient's unload_model always sends unload_dependents; a model here has no dependents
# (no ensembles), so either value is honoured by unloading the model alone
UNLOAD_PARAMETERS = ("unregister", "unload_dependents")


@dataclass(frozen=True)
class LoadParameters:
    """What a load asks for, checked."""

    config: str | None = None
    storage_uri: str | None = None
    memory: int | None = None
    lazy: bool = False


def load_parameters(parameters: dict[str, Any] | None) -> LoadParameters:
    """The load's parameters, or InvalidInput naming the first bad or unknown one."""
    params = dict(parameters or {})
    _only(params, LOAD_PARAMETERS, "load")
    config = params.get("config")
    if config is not None and not isinstance(config, str):
        raise InvalidInput("parameters.config: expected a string holding JSON")
    uri = params.get("storage_uri")
    if uri is not None:
        uri = _storage_uri(uri)
    memory = params.get("memory")
    if memory is not None and (not isinstance(memory, int) or isinstance(memory, bool)):
        raise InvalidInput(
            f"parameters.memory: expected an integer number of bytes, got {memory!r}"
        )
    if memory is not None and memory <= 0:
        raise InvalidInput(f"parameters.memory: expected a positive number of bytes, got {memory}")
    lazy = params.get("lazy", False)
    if not isinstance(lazy, bool):
        raise InvalidInput(f"parameters.lazy: expected true or false, got {lazy!r}")
    if lazy and uri is None:
        raise InvalidInput(
            "parameters.lazy: only with parameters.storage_uri (register, load later)"
        )
    return LoadParameters(config=config, storage_uri=uri, memory=memory, lazy=lazy)


def unregister_parameter(parameters: dict[str, Any] | None) -> bool:
    """Whether an unload asks to unregister, or InvalidInput naming a bad or unknown parameter."""
    params = dict(parameters or {})
    _only(params, UNLOAD_PARAMETERS, "unload")
    for key in UNLOAD_PARAMETERS:
        value = params.get(key, False)
        if not isinstance(value, bool):
            raise InvalidInput(f"parameters.{key}: expected true or false, got {value!r}")
    return bool(params.get("unregister", False))


def store_name(name: str) -> str:
    """`name` when it can be a directory of the model store, else InvalidInput."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise InvalidInput(
            f"model name {name!r}: cannot register it (it must be a plain directory name)"
        )
    return name


def _only(params: dict[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        allowed = ", ".join(f"'{k}'" for k in known)
        raise InvalidInput(f"parameters.{unknown[0]}: not supported on {what} (only {allowed})")


def _storage_uri(uri: Any) -> str:
    if not isinstance(uri, str) or not uri:
        raise InvalidInput(f"parameters.storage_uri: expected a URI string, got {uri!r}")
    try:
        parsed = parse(uri)
    except ValueError as exc:
        raise InvalidInput(f"parameters.storage_uri: {exc}") from None
    if parsed.scheme not in REMOTE_SCHEMES:
        schemes = ", ".join(sorted(REMOTE_SCHEMES))
        raise InvalidInput(
            f"parameters.storage_uri: {uri!r}: the server pulls only {schemes} URIs, "
            f"not {parsed.scheme!r}"
        )
    return uri
