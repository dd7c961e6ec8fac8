"""Which activator port relays a scale-to-zero component's gRPC while it is at zero (pure).

gRPC (HTTP/2) carries no Host header the activator could route by before it parses the
stream, so each component gets a port of its own in the activator pods: the operator writes
it on the component's Service (`names.RELAY_PORT_ANNOTATION`) and in the `grpc` port of the
EndpointSlice that points the Service at the activator; the activator listens on every
claimed port and relays the bytes of a connection to the component's pod once it is woken.

A port is picked from the component's own hash (stable across passes and operator
restarts) by probing the range for one no other Service claims. Two passes that race to the
same port converge: the claim of the Service whose key sorts first stands, the other moves
on its next pass (its Service's change starts one), and the activator follows the same rule.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

RELAY_PORTS = range(20000, 30000)


def service_key(namespace: str, service: str) -> str:
    """The key that orders claims: NAMESPACE/SERVICE."""
    return f"{namespace}/{service}"


def claims(annotated: Iterable[tuple[str, str | None]]) -> dict[int, str]:
    """Port -> the first key (in sort order) claiming it, from (key, annotation) pairs;
    annotations that are not a port in the range are no claim."""
    found: dict[int, str] = {}
    for key, value in annotated:
        port = parse(value)
        if port is not None and (port not in found or key < found[port]):
            found[port] = key
    return found


def parse(value: str | None) -> int | None:
    """An annotation's port, or None when it is absent or not a port in the range."""
    try:
        port = int(value or "")
    except ValueError:
        return None
    return port if port in RELAY_PORTS else None


def relay_port(key: str, current: int | None, others: Mapping[int, str]) -> int:
    """The port for `key`: its `current` one unless a key that sorts first claims it, else
    the first port from its hash that no other Service claims (`others` excludes `key`)."""
    if current is not None and current in RELAY_PORTS:
        holder = others.get(current)
        if holder is None or key < holder:
            return current
    start = zlib.crc32(key.encode()) % len(RELAY_PORTS)
    for step in range(len(RELAY_PORTS)):
        port = RELAY_PORTS[(start + step) % len(RELAY_PORTS)]
        if port not in others:
            return port
    raise ValueError(f"no free activator relay port for {key}: all {len(RELAY_PORTS)} claimed")
