"""Step selection is pure: the same node, input and seeded rng give the same steps."""

from __future__ import annotations

import random
from collections import Counter

from modelplane.router.graph import load
from modelplane.router.select import pick_weighted, select_steps, sequence_continues


def _node(router_type: str, steps: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    return load({"name": "g", "nodes": {"root": {"routerType": router_type, "steps": steps}}}).root


def test_switch_runs_the_first_matching_step() -> None:
    node = _node(
        "Switch",
        [
            {"name": "big", "serviceUrl": "http://a/x", "condition": "inputs.0.data.0 > 10"},
            {"name": "pos", "serviceUrl": "http://b/x", "condition": "inputs.0.data.0 > 0"},
            {"name": "any", "serviceUrl": "http://c/x", "condition": "inputs"},
        ],
    )
    rng = random.Random(0)
    pick = lambda v: [s.name for s in select_steps(node, {"inputs": [{"data": [v]}]}, rng)]  # noqa: E731
    assert pick(50) == ["big"]
    assert pick(5) == ["pos"]
    assert pick(-5) == ["any"]
    assert [s.name for s in select_steps(node, {"other": 1}, rng)] == []
    assert select_steps(node, None, rng) == ()


def test_switch_step_without_condition_is_the_default_branch() -> None:
    node = _node(
        "Switch",
        [
            {"name": "a", "serviceUrl": "http://a/x", "condition": "flag == true"},
            {"name": "default", "serviceUrl": "http://b/x"},
        ],
    )
    assert select_steps(node, {"flag": True}, random.Random())[0].name == "a"
    assert select_steps(node, {"flag": False}, random.Random())[0].name == "default"


def test_sequence_and_ensemble_select_all_steps_in_order() -> None:
    steps = [{"name": n, "serviceUrl": f"http://{n}/x"} for n in ("a", "b", "c")]
    for router_type in ("Sequence", "Ensemble"):
        node = _node(router_type, steps)
        assert [s.name for s in select_steps(node, None, random.Random())] == ["a", "b", "c"]


def test_sequence_condition_checks_the_previous_response() -> None:
    node = _node(
        "Sequence",
        [
            {"serviceUrl": "http://a/x"},
            {"serviceUrl": "http://b/x", "condition": "outputs.0.data.0 == 1"},
        ],
    )
    second = node.steps[1]
    assert sequence_continues(node.steps[0], None)
    assert sequence_continues(second, {"outputs": [{"data": [1]}]})
    assert not sequence_continues(second, {"outputs": [{"data": [0]}]})


def test_splitter_is_seeded_and_follows_weights() -> None:
    node = _node(
        "Splitter",
        [
            {"name": "a", "serviceUrl": "http://a/x", "weight": 20},
            {"name": "b", "serviceUrl": "http://b/x", "weight": 80},
        ],
    )
    first = [select_steps(node, None, random.Random(7))[0].name for _ in range(3)]
    again = [select_steps(node, None, random.Random(7))[0].name for _ in range(3)]
    assert first == again
    rng = random.Random(42)
    counts = Counter(select_steps(node, None, rng)[0].name for _ in range(5000))
    assert 0.17 < counts["a"] / 5000 < 0.23
    assert counts["a"] + counts["b"] == 5000


def test_zero_weight_step_is_never_picked() -> None:
    node = _node(
        "Splitter",
        [
            {"name": "off", "serviceUrl": "http://a/x", "weight": 0},
            {"name": "on", "serviceUrl": "http://b/x", "weight": 100},
        ],
    )
    rng = random.Random(1)
    assert {pick_weighted(node.steps, rng).name for _ in range(500)} == {"on"}
