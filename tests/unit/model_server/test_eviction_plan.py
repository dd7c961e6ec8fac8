"""The pure eviction planner: least recently used first, no more than needed, never `keep`."""

from __future__ import annotations

import random

import pytest

from modelplane.model_server.eviction import (
    Footprint,
    Plan,
    Resident,
    fits,
    human,
    misfit,
    plan_evictions,
    total,
)

MB = 1 << 20


def _r(name: str, host: int, used: float, gpu: int = 0) -> Resident:
    return Resident(name, Footprint(host, gpu), used)


def test_evicts_the_least_recently_used_until_the_load_fits() -> None:
    residents = [_r("a", 4 * MB, 3.0), _r("b", 4 * MB, 1.0), _r("c", 4 * MB, 2.0)]
    plan = plan_evictions(residents, Footprint(9 * MB), Footprint(16 * MB))
    assert plan == Plan(evict=("b", "c"), fits=True)


def test_nothing_to_evict_when_there_is_room_or_no_capacity() -> None:
    residents = [_r("a", 4 * MB, 1.0)]
    assert plan_evictions(residents, Footprint(4 * MB), Footprint(8 * MB)) == Plan((), True)
    assert plan_evictions(residents, Footprint(1 << 40), Footprint()) == Plan((), True)


def test_kept_models_stay_even_when_that_leaves_too_little_room() -> None:
    residents = [_r("new", 10 * MB, 9.0), _r("old", 2 * MB, 1.0)]
    plan = plan_evictions(residents, Footprint(), Footprint(8 * MB), keep={"new"})
    assert plan == Plan(evict=("old",), fits=False)


def test_gpu_memory_is_planned_like_host_memory() -> None:
    residents = [_r("a", MB, 1.0, gpu=3 * MB), _r("b", MB, 2.0, gpu=3 * MB)]
    plan = plan_evictions(residents, Footprint(MB, 3 * MB), Footprint(0, 8 * MB))
    assert plan == Plan(evict=("a",), fits=True)


def test_ties_in_last_use_go_by_name() -> None:
    residents = [_r("b", MB, 1.0), _r("a", MB, 1.0)]
    assert plan_evictions(residents, Footprint(MB), Footprint(2 * MB)).evict == ("a",)


def test_misfit_names_the_device_the_need_and_the_capacity() -> None:
    assert misfit(Footprint(5 * MB), Footprint(4 * MB)) == (
        "does not fit: needs 5.0 MiB of host memory, capacity 4.0 MiB (5242880 > 4194304 bytes)"
    )
    assert misfit(Footprint(0, 3 * MB), Footprint(0, 2 * MB), what="measured") == (
        "does not fit: measured 3.0 MiB of GPU memory, capacity 2.0 MiB (3145728 > 2097152 bytes)"
    )
    assert misfit(Footprint(4 * MB), Footprint(4 * MB)) is None
    assert misfit(Footprint(1 << 50, 1 << 50), Footprint()) is None


def test_human_sizes() -> None:
    assert [human(n) for n in (17, 1536, 300 * MB, 3 << 30)] == [
        "17 B",
        "1.5 KiB",
        "300.0 MiB",
        "3.0 GiB",
    ]


def _random_case(rng: random.Random) -> tuple[list[Resident], Footprint, Footprint, set[str]]:
    def size() -> int:
        return rng.choice([0, rng.randrange(64 * MB)])

    names = rng.sample("abcdefghijkl", rng.randrange(13))
    residents = [
        _r(name, size(), float(rng.randrange(20)), gpu=size()) for name in names
    ]  # few distinct times: ties happen
    keep = set(rng.sample(names, rng.randrange(len(names) + 1))) if names else set()
    capacity = Footprint(size(), size())
    return residents, Footprint(size(), size()), capacity, keep


# property checks over seeded random cases (hypothesis is not in the dev environment)
@pytest.mark.parametrize("seed", range(400))
def test_plan_properties(seed: int) -> None:
    residents, need, capacity, keep = _random_case(random.Random(seed))
    names = [r.name for r in residents]
    plan = plan_evictions(residents, need, capacity, keep)
    evicted = set(plan.evict)
    by_name = {r.name: r for r in residents}
    assert not evicted & keep, "a kept model was evicted"
    assert len(plan.evict) == len(evicted) and evicted <= set(names)
    left = [r for r in residents if r.name not in evicted]
    # fits tells the truth about what is left
    assert plan.fits == fits(total(left) + need, capacity)
    # least recently used first: every evicted model is no newer than any evictable one left
    candidates_left = [r for r in left if r.name not in keep]
    for name in plan.evict:
        assert all(
            (by_name[name].last_used, name) <= (r.last_used, r.name) for r in candidates_left
        )
    # no more than needed: without the last eviction it would not fit
    if plan.evict:
        last = by_name[plan.evict[-1]]
        assert not fits(total(left) + last.size + need, capacity)
    # when it does not fit, every evictable model was evicted
    if not plan.fits:
        assert not candidates_left
