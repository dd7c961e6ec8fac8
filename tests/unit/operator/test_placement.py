"""Placement of models on a multi-model pool: goldens for the cases people reason about, and
properties over generated pools.

The properties run twice: over 400 pools from a seeded generator (the same every run, each
failure naming its seed), and searched by hypothesis (which shrinks a failure to a small pool).

Regenerate the goldens after an intended change with MODELPLANE_UPDATE_GOLDENS=1 and review
the diff.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelplane.operator.placement import (
    FILL,
    Assignment,
    Model,
    Replica,
    over_capacity,
    place,
    sizes,
)

GOLDENS = Path(__file__).parent / "goldens" / "placement"
MI = 2**20


def pool(*capacities: int, ready: tuple[bool, ...] = ()) -> list[Replica]:
    flags = ready or (True,) * len(capacities)
    return [
        Replica(f"p-{i}", c * MI, r) for i, (c, r) in enumerate(zip(capacities, flags, strict=True))
    ]


def model(name: str, mi: int | None, copies: int = 1, used: float = 0.0) -> Model:
    return Model(name, None if mi is None else mi * MI, copies, used)


# name -> (replicas, models, current): each case is one golden file
CASES: dict[str, tuple[list[Replica], list[Model], dict[str, tuple[str, ...]]]] = {
    "fresh-pool-spreads-evenly": (
        pool(1000, 1000),
        [model(f"m{i}", 100) for i in range(6)],
        {},
    ),
    "largest-first-fills-evenly": (
        pool(1000, 1000),
        [model("a", 500), model("b", 400), model("c", 300), model("d", 200), model("e", 100)],
        {},
    ),
    "copies-spread-over-distinct-replicas": (
        pool(1000, 1000, 1000),
        [model("a", 100, copies=3), model("b", 100, copies=2), model("c", 100)],
        {},
    ),
    "copies-beyond-the-replicas-take-every-replica": (
        pool(1000, 1000),
        [model("a", 100, copies=5)],
        {},
    ),
    "a-model-stays-where-it-is": (
        pool(1000, 1000),
        [model("a", 100), model("b", 100), model("c", 100)],
        {"a": ("p-1",), "b": ("p-1",), "c": ("p-1",)},
    ),
    "an-over-full-replica-moves-its-least-recently-used": (
        pool(1000, 1000),
        [model("a", 400, used=3), model("b", 400, used=2), model("c", 400, used=1)],
        {"a": ("p-0",), "b": ("p-0",), "c": ("p-0",)},
    ),
    "overcommit-assigns-every-model": (
        pool(500, 500),
        [model(f"m{i:02d}", 100, used=i) for i in range(20)],
        {},
    ),
    "overcommit-keeps-the-current-placement": (
        pool(500, 500),
        [model(f"m{i:02d}", 100, used=i) for i in range(8)],
        {f"m{i:02d}": (f"p-{i % 2}",) for i in range(8)},
    ),
    "unknown-sizes-count-as-the-mean": (
        pool(1000, 1000),
        [model("known", 600), model("x", None), model("y", None)],
        {},
    ),
    "a-replica-that-is-not-ready-gives-its-models-up": (
        pool(1000, 1000, ready=(True, False)),
        [model("a", 100), model("b", 100, copies=2)],
        {"a": ("p-1",), "b": ("p-0", "p-1")},
    ),
    "no-ready-replica-assigns-nothing": (
        pool(1000, ready=(False,)),
        [model("a", 100)],
        {"a": ("p-0",)},
    ),
    "unlimited-capacity-spreads-by-count": (
        pool(0, 0),
        [model(f"m{i}", None) for i in range(5)],
        {},
    ),
}


def as_text(replicas: list[Replica], models: list[Model], current: dict[str, Any]) -> str:
    result = place(replicas, models, current)
    size = sizes(models)
    per_replica = {
        r.name: {
            "capacityMi": r.capacity // MI,
            "ready": r.ready,
            "models": sorted(m for m, held in result.items() if r.name in held),
            "usedMi": sum(size[m] for m, held in result.items() if r.name in held) // MI,
        }
        for r in replicas
    }
    document = {
        "models": {
            m.name: {
                "sizeMi": None if m.size is None else m.size // MI,
                "copies": m.copies,
                "lastUsed": m.last_used,
            }
            for m in models
        },
        "current": {k: list(v) for k, v in sorted(current.items())},
        "assignment": {k: list(v) for k, v in sorted(result.items())},
        "replicas": per_replica,
    }
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_placement_matches_its_golden(case: str) -> None:
    text = as_text(*CASES[case])
    golden = GOLDENS / f"{case}.yaml"
    if os.environ.get("MODELPLANE_UPDATE_GOLDENS") == "1":
        golden.write_text(text)
    assert golden.exists(), f"missing golden {golden.name}; run with MODELPLANE_UPDATE_GOLDENS=1"
    assert text == golden.read_text()


def test_every_golden_has_a_case() -> None:
    assert {p.stem for p in GOLDENS.glob("*.yaml")} == set(CASES)


# --- properties -------------------------------------------------------------------------

WORLDS = 400


def world(seed: int) -> tuple[list[Replica], list[Model], Assignment]:
    """A random pool, models (some of unknown size) and a current assignment that may name
    replicas that are gone, not ready, or hold a model twice over its copies."""
    rng = random.Random(seed)
    replicas = [
        Replica(f"p-{i}", rng.choice([0, rng.randint(1, 4000)]) * MI, rng.random() > 0.2)
        for i in range(rng.randint(0, 6))
    ]
    models = [
        Model(
            f"m{i}",
            None if rng.random() < 0.2 else rng.randint(0, 1500) * MI,
            rng.randint(1, 4),
            rng.choice([0.0, rng.uniform(0, 100)]),
        )
        for i in range(rng.randint(0, 25))
    ]
    names = [r.name for r in replicas] + ["gone-0"]
    current = {
        m.name: tuple(rng.sample(names, rng.randint(0, min(3, len(names)))))
        for m in models
        if rng.random() < 0.6
    }
    return replicas, models, current


@pytest.mark.parametrize("seed", range(WORLDS))
def test_every_model_gets_its_copies_on_distinct_ready_replicas(seed: int) -> None:
    replicas, models, current = world(seed)
    result = place(replicas, models, current)
    ready = {r.name for r in replicas if r.ready}
    assert set(result) == {m.name for m in models}
    for m in models:
        held = result[m.name]
        assert len(held) == len(set(held)), held
        assert set(held) <= ready
        assert len(held) == min(m.copies, len(ready))


@pytest.mark.parametrize("seed", range(WORLDS))
def test_placing_again_changes_nothing(seed: int) -> None:
    replicas, models, current = world(seed)
    once = place(replicas, models, current)
    assert place(replicas, models, once) == once


@pytest.mark.parametrize("seed", range(WORLDS))
def test_a_valid_placement_stays_as_it_is(seed: int) -> None:
    """Where nothing must move (every copy on a ready replica, no replica over its fill line),
    nothing moves, whatever the models' use."""
    replicas, models, _ = world(seed)
    current = place(replicas, models, {})  # a valid placement whenever the models fit
    lines = [Replica(r.name, int(r.capacity * FILL), r.ready) for r in replicas]
    if over_capacity(lines, models, current):
        return
    rng = random.Random(seed)
    used = [Model(m.name, m.size, m.copies, rng.uniform(0, 100)) for m in models]
    assert place(replicas, used, current) == current


@pytest.mark.parametrize("seed", range(WORLDS))
def test_no_replica_goes_over_capacity_when_the_models_fit(seed: int) -> None:
    """Greedy placement cannot fail while the models' total leaves every replica room for the
    largest model: total <= replicas x (fill line - largest)."""
    rng = random.Random(seed)
    count, capacity = rng.randint(1, 5), rng.randint(100, 4000) * MI
    model_sizes = [rng.randint(0, 400) * MI for _ in range(rng.randint(0, 30))]
    replicas = [Replica(f"p-{i}", capacity, True) for i in range(count)]
    models = [Model(f"m{i}", s) for i, s in enumerate(model_sizes)]
    largest = max(model_sizes, default=0)
    if sum(model_sizes) > count * (capacity * FILL - largest):
        return
    assert over_capacity(replicas, models, place(replicas, models, {})) == {}


def test_the_properties_see_pools_that_fit_and_pools_that_do_not() -> None:
    """The generated worlds are not all trivially fine: some overcommit, some fit."""
    outcomes = set()
    for seed in range(WORLDS):
        replicas, models, _ = world(seed)
        lines = [Replica(r.name, int(r.capacity * FILL), r.ready) for r in replicas]
        outcomes.add(bool(over_capacity(lines, models, place(replicas, models, {}))))
    assert outcomes == {True, False}


# --- the same properties, searched by hypothesis (shrinks a failure to a small pool) --------

replica_lists = st.lists(
    st.tuples(st.one_of(st.just(0), st.integers(1, 4000)), st.booleans()), max_size=6
).map(lambda rs: [Replica(f"p-{i}", c * MI, ready) for i, (c, ready) in enumerate(rs)])
model_lists = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 1500)), st.integers(1, 4), st.floats(0, 100)),
    max_size=25,
).map(
    lambda ms: [
        Model(f"m{i}", None if s is None else s * MI, c, u) for i, (s, c, u) in enumerate(ms)
    ]
)


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[Replica], list[Model], Assignment]:
    replicas, models = draw(replica_lists), draw(model_lists)
    where = [r.name for r in replicas] + ["gone-0"]
    current = {
        m.name: tuple(draw(st.lists(st.sampled_from(where), max_size=3, unique=True)))
        for m in models
        if draw(st.booleans())
    }
    return replicas, models, current


@settings(max_examples=300, deadline=None)
@given(pools())
def test_hypothesis_every_model_on_distinct_ready_replicas_and_stable(
    world_: tuple[list[Replica], list[Model], Assignment],
) -> None:
    replicas, models, current = world_
    result = place(replicas, models, current)
    ready = {r.name for r in replicas if r.ready}
    for m in models:
        held = result[m.name]
        assert len(set(held)) == len(held) == min(m.copies, len(ready))
        assert set(held) <= ready
    assert place(replicas, models, result) == result


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5), st.integers(100, 4000), st.lists(st.integers(0, 400), max_size=30))
def test_hypothesis_no_replica_over_capacity_when_the_models_fit(
    count: int, capacity_mi: int, sizes_mi: list[int]
) -> None:
    capacity = capacity_mi * MI
    replicas = [Replica(f"p-{i}", capacity, True) for i in range(count)]
    models = [Model(f"m{i}", s * MI) for i, s in enumerate(sizes_mi)]
    largest = max(sizes_mi, default=0) * MI
    if sum(sizes_mi) * MI > count * (capacity * FILL - largest):
        return
    assert over_capacity(replicas, models, place(replicas, models, {})) == {}
