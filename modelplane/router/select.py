"""Step selection, pure: which steps of a node run for a given payload and random source."""

from __future__ import annotations

import random
from typing import Any

from modelplane.router.graph import Node, Step


def select_steps(node: Node, document: Any, rng: random.Random) -> tuple[Step, ...]:
    """The steps a node runs for this (parsed) input.

    Sequence and Ensemble run all their steps (a Sequence step's condition is checked against
    the previous response as it goes, see `sequence_continues`); Switch runs the first step
    whose condition matches the input (a step without a condition always matches), or none;
    Splitter runs one step chosen at random in proportion to the weights.
    """
    if node.router_type in ("Sequence", "Ensemble"):
        return node.steps
    if node.router_type == "Switch":
        for step in node.steps:
            if step.condition is None or step.condition.matches(document):
                return (step,)
        return ()
    return (pick_weighted(node.steps, rng),)


def pick_weighted(steps: tuple[Step, ...], rng: random.Random) -> Step:
    """Weighted choice: step i wins when a uniform point in [0, total) falls in its share."""
    total = sum(s.weight or 0 for s in steps)
    point = rng.random() * total
    end = 0.0
    for step in steps:
        end += step.weight or 0
        if point < end:
            return step
    return next(s for s in reversed(steps) if s.weight)


def failover_order(node: Node, failed: Step, rng: random.Random) -> list[Step]:
    """The other steps of a failover Splitter, to try in turn after `failed` could not be
    reached: each next one picked by weight among those left (a weight of 0 is never tried)."""
    left = tuple(s for s in node.steps if s is not failed and s.weight)
    order: list[Step] = []
    while left:
        step = pick_weighted(left, rng)
        order.append(step)
        left = tuple(s for s in left if s is not step)
    return order


def sequence_continues(step: Step, current: Any) -> bool:
    """Whether a Sequence goes on to this step, given the current (previous response) document."""
    return step.condition is None or step.condition.matches(current)
