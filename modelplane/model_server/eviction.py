"""Pure eviction planning: which loaded models to unload, least recently used first, so a load fits.

A model's footprint is host bytes and GPU bytes (its measured size, else its declared one, else
0); a capacity of 0 in a dimension means unlimited. The planner never evicts a model in `keep`
(the one being loaded) and evicts no more than it must.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Footprint:
    """Bytes of host memory and of GPU memory."""

    host: int = 0
    gpu: int = 0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.host + other.host, self.gpu + other.gpu)

    def __sub__(self, other: Footprint) -> Footprint:
        return Footprint(self.host - other.host, self.gpu - other.gpu)


@dataclass(frozen=True)
class Resident:
    """A loaded model as the planner sees it."""

    name: str
    size: Footprint
    last_used: float


@dataclass(frozen=True)
class Plan:
    """Models to unload, in order; `fits` is False when even that leaves too little room."""

    evict: tuple[str, ...]
    fits: bool


def larger(a: Footprint, b: Footprint) -> Footprint:
    """The larger of two sizes in each dimension."""
    return Footprint(max(a.host, b.host), max(a.gpu, b.gpu))


def fits(used: Footprint, capacity: Footprint) -> bool:
    """Whether `used` is within `capacity` in every limited dimension."""
    return (not capacity.host or used.host <= capacity.host) and (
        not capacity.gpu or used.gpu <= capacity.gpu
    )


def misfit(size: Footprint, capacity: Footprint, what: str = "needs") -> str | None:
    """Why a model of `size` can never fit `capacity` ("does not fit: ..."), or None."""
    for device, need, limit in (
        ("host memory", size.host, capacity.host),
        ("GPU memory", size.gpu, capacity.gpu),
    ):
        if limit and need > limit:
            return (
                f"does not fit: {what} {human(need)} of {device}, capacity {human(limit)} "
                f"({need} > {limit} bytes)"
            )
    return None


def total(residents: Iterable[Resident]) -> Footprint:
    """The summed footprint of `residents`."""
    used = Footprint()
    for resident in residents:
        used += resident.size
    return used


def plan_evictions(
    residents: Collection[Resident],
    need: Footprint,
    capacity: Footprint,
    keep: Collection[str] = (),
) -> Plan:
    """Unload the least recently used of `residents` (oldest first, ties by name) until they
    and `need` more fit `capacity`; models named in `keep` stay."""
    used = total(residents) + need
    evict: list[str] = []
    order = sorted(
        (r for r in residents if r.name not in keep), key=lambda r: (r.last_used, r.name)
    )
    for resident in order:
        if fits(used, capacity):
            break
        evict.append(resident.name)
        used -= resident.size
    return Plan(tuple(evict), fits(used, capacity))


def human(size: int) -> str:
    """Bytes for people: 1.5 GiB, 300.0 MiB, 12.0 KiB, 17 B."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
