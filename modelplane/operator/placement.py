"""Which replicas of a multi-model pool hold each model: a pure decision (issue 16).

Input: the pool's replicas (capacity in bytes, ready or not), the models (size in bytes when
measured or declared, copies wanted, when last used) and where they are now. Output: where they
should be. The rules, in order:

1. Stay: a model keeps the ready replicas it is on (up to its copies).
2. Make room: a replica over its fill line (capacity x `fill`, the room to spare) moves its
   least recently used models to replicas where they fit, while any such move is left. A model
   that fits nowhere else stays (overcommit).
3. Place: every missing copy, largest model first, goes to the ready replica with the most room
   left that does not hold the model yet (so copies spread over distinct replicas and replicas
   fill evenly). When no replica has room (overcommit), it goes back where it was, else to the
   replica with the most room left: every model is assigned, and the server's LRU decides
   which of a replica's models are loaded at a time. Then room is made again (2).

A model of unknown size counts as the mean of the known ones (0 when none is known) until the
server measures it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FILL = 0.9
"""Fraction of a replica's capacity placement fills before it prefers another replica."""

Assignment = dict[str, tuple[str, ...]]
"""model name -> names of the replicas that hold it (sorted)."""


@dataclass(frozen=True)
class Replica:
    """One pool replica: its name, capacity in bytes (0: unlimited) and readiness."""

    name: str
    capacity: int
    ready: bool = True


@dataclass(frozen=True)
class Model:
    """One model: size in bytes (None: unknown), copies wanted, last use (unix seconds)."""

    name: str
    size: int | None = None
    copies: int = 1
    last_used: float = 0.0


def sizes(models: Iterable[Model]) -> dict[str, int]:
    """Each model's size for placement: its own when known, else the mean of the known."""
    models = list(models)
    known = [m.size for m in models if m.size is not None]
    estimate = round(sum(known) / len(known)) if known else 0
    return {m.name: m.size if m.size is not None else estimate for m in models}


class _Pool:
    """Replicas' fill lines and what is on them while a placement is being decided."""

    def __init__(self, replicas: Sequence[Replica], size: Mapping[str, int], fill: float) -> None:
        self.names = [r.name for r in replicas]
        self.limit = {r.name: r.capacity * fill if r.capacity > 0 else math.inf for r in replicas}
        self.size = size
        self.held: dict[str, list[str]] = {r.name: [] for r in replicas}

    def used(self, replica: str) -> int:
        return sum(self.size[m] for m in self.held[replica])

    def room(self, replica: str) -> float:
        return self.limit[replica] - self.used(replica)

    def fits(self, replica: str, model: str) -> bool:
        return self.used(replica) + self.size[model] <= self.limit[replica]

    def emptiest(self, candidates: Iterable[str]) -> str:
        """The candidate with the most room, then the fewest models, then by name."""
        return min(candidates, key=lambda r: (-self.room(r), len(self.held[r]), r))


def place(
    replicas: Sequence[Replica],
    models: Sequence[Model],
    current: Mapping[str, Iterable[str]],
    fill: float = FILL,
) -> Assignment:
    """Where every model should be (see the module's docstring for the rules).

    Only ready replicas hold models; with none ready, nothing is assigned. A model wants
    min(copies, ready replicas) distinct replicas.
    """
    ready = sorted((r for r in replicas if r.ready), key=lambda r: r.name)
    if not ready:
        return {m.name: () for m in models}
    pool = _Pool(ready, sizes(models), fill)
    recent = sorted(models, key=lambda m: (-m.last_used, m.name))
    wanted = {m.name: min(max(m.copies, 1), len(ready)) for m in models}
    was = {m.name: set(current.get(m.name, ())) for m in models}
    # 1. stay, most recently used first (they keep their place when copies are cut)
    for model in recent:
        for replica in sorted(was[model.name] & set(pool.names)):
            if sum(model.name in pool.held[r] for r in pool.names) < wanted[model.name]:
                pool.held[replica].append(model.name)
    # 2. make room where a model can move; 3. place missing copies; make room again
    last_used = {m.name: m.last_used for m in models}
    _relieve(pool, last_used)
    for model in sorted(models, key=lambda m: (-pool.size[m.name], m.name)):
        while True:
            holders = [r for r in pool.names if model.name in pool.held[r]]
            if len(holders) >= wanted[model.name]:
                break
            free = [r for r in pool.names if r not in holders]
            roomy = [r for r in free if pool.fits(r, model.name)]
            back = sorted(was[model.name] & set(free))
            target = pool.emptiest(roomy) if roomy else back[0] if back else pool.emptiest(free)
            pool.held[target].append(model.name)
    _relieve(pool, last_used)
    return {m.name: tuple(sorted(r for r in pool.names if m.name in pool.held[r])) for m in models}


def _relieve(pool: _Pool, last_used: Mapping[str, float]) -> None:
    """Move models off replicas over their fill line, least recently used first, to the
    replica with the most room where they fit, until no such move is left. Each move lowers
    the total overflow (only models of some size move), so this ends; at its end no model can
    move, so placing the result again moves nothing."""
    moved = True
    while moved:
        moved = False
        for replica in pool.names:
            if pool.room(replica) >= 0:
                continue
            for model in sorted(pool.held[replica], key=lambda m: (last_used[m], m)):
                if pool.size[model] <= 0:
                    continue
                targets = [
                    r for r in pool.names if model not in pool.held[r] and pool.fits(r, model)
                ]
                if targets:
                    pool.held[replica].remove(model)
                    pool.held[pool.emptiest(targets)].append(model)
                    moved = True
                    break


def over_capacity(
    replicas: Sequence[Replica], models: Sequence[Model], assignment: Mapping[str, Iterable[str]]
) -> dict[str, int]:
    """Bytes by which each replica's assigned models exceed its capacity (only those over)."""
    size = sizes(models)
    total = {r.name: 0 for r in replicas}
    for model, holders in assignment.items():
        for replica in holders:
            total[replica] = total.get(replica, 0) + size.get(model, 0)
    return {
        r.name: total[r.name] - r.capacity
        for r in replicas
        if r.capacity > 0 and total[r.name] > r.capacity
    }
