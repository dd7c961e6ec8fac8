"""Relay ports for gRPC at zero (pure): stable, unique, and convergent when passes race."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelplane.operator.relay_ports import RELAY_PORTS, claims, parse, relay_port, service_key
from modelplane.operator.targets import relayed, target_of


def test_a_port_is_stable_across_passes_and_in_the_range() -> None:
    key = service_key("ns", "iris-predictor")
    first = relay_port(key, None, {})
    assert first in RELAY_PORTS
    assert relay_port(key, None, {}) == first  # from the key's own hash
    assert relay_port(key, first, {1 + first: "ns/other"}) == first  # kept


def test_a_claimed_port_is_skipped_and_a_race_is_won_by_the_first_key() -> None:
    a, b = service_key("ns", "a-predictor"), service_key("ns", "b-predictor")
    port = relay_port(a, None, {})
    assert relay_port(b, None, {port: a}) != port  # never picks a claimed port
    # both hold the same port after a race: the key that sorts first keeps it
    assert relay_port(a, port, {port: b}) == port
    moved = relay_port(b, port, {port: a})
    assert moved != port and moved in RELAY_PORTS


def test_annotations_that_are_not_ports_in_the_range_are_no_claim() -> None:
    assert parse("20001") == 20001
    assert [parse(v) for v in (None, "", "x", "80", "30000", "-1")] == [None] * 6
    found = claims([("ns/b", "20001"), ("ns/a", "20001"), ("ns/c", "nope"), ("ns/d", "8081")])
    assert found == {20001: "ns/a"}


@given(st.lists(st.text("abc", min_size=1, max_size=6), min_size=1, max_size=12, unique=True))
def test_passes_that_race_converge_to_unique_ports(services: list[str]) -> None:
    # Every Service first picks a port seeing no claims (the worst race); then passes run in
    # turn, each seeing the others' annotations, until nothing changes.
    keys = [service_key("ns", s) for s in services]
    ports = {k: relay_port(k, None, {}) for k in keys}
    for _ in range(len(keys) + 1):
        changed = False
        for key in keys:
            others = claims((k, str(p)) for k, p in ports.items() if k != key)
            port = relay_port(key, ports[key], others)
            changed |= port != ports[key]
            ports[key] = port
        if not changed:
            break
    assert len(set(ports.values())) == len(keys)


def service(name: str, port: str | None, grpc_target: int = 8081) -> dict[str, object]:
    notes = {"serving.modelplane.io/scale-target": f"{name}-1"}
    if port is not None:
        notes["serving.modelplane.io/activator-grpc-port"] = port
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"serving.modelplane.io/scale-to-zero": "true"},
            "annotations": notes,
        },
        "spec": {"ports": [{"name": "grpc", "port": 8081, "targetPort": grpc_target}]},
    }


def test_the_activator_relays_each_claimed_port_for_the_first_key() -> None:
    targets = [
        target_of(service("b-predictor", "20001")),
        target_of(service("a-predictor", "20001", grpc_target=9001)),
        target_of(service("c-predictor", None)),
    ]
    found = relayed(t for t in targets if t is not None)
    assert list(found) == [20001]
    assert (found[20001].service, found[20001].grpc_port) == ("a-predictor", 9001)


def test_a_service_without_a_selector_is_parked_and_with_one_it_routes_to_pods() -> None:
    parked = target_of(service("a-predictor", "20001"))
    routed = service("a-predictor", "20001")
    routed["spec"]["selector"] = {"app": "a"}  # type: ignore[index]
    back = target_of(routed)
    assert parked is not None and back is not None
    assert (parked.parked, back.parked) == (True, False)
