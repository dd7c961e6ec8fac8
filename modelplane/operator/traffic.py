"""Which revisions of a component serve, and with what share of traffic (pure).

A revision is one rendered pod template of the predictor (named from its hash, `names`).
The status remembers the revision that last carried all traffic (`latestRolledoutRevision`);
the plan is a function of that memory, the latest revision, `canaryTrafficPercent` and which
revisions are ready, so a pass can be repeated any number of times with the same result:

- no rolled-out revision, or it is the latest, or it no longer exists: the latest alone, 100%;
- the latest not ready (starting, or a failed canary): the rolled-out one keeps 100%, the
  latest gets 0% (kept, so it can become ready);
- the latest ready and the percent unset or 100 (promotion): the latest 100%, the rolled-out
  one 0% for this pass only (it becomes `previousRolledoutRevision` and the next pass, with
  the latest now rolled out, prunes it: routes switch before its pods go);
- the latest ready and the percent 0 (rollback): the rolled-out one 100%, the latest 0%;
- otherwise (a canary): the latest the percent, the rolled-out one the rest.

At most two revisions are kept; every other revision of the component is pruned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class TrafficPlan:
    """The revisions kept for one component and each one's percent of traffic."""

    latest: str
    # (revision, percent) for every kept revision: the rolled-out one first, then the latest
    targets: tuple[tuple[str, int], ...]
    rolled_out: str
    previous: str | None = None

    @property
    def kept(self) -> tuple[str, ...]:
        """Revisions whose objects stay (everything else of the component is pruned)."""
        return tuple(name for name, _ in self.targets)

    @property
    def serving(self) -> str:
        """The revision with the most traffic (the rolled-out one on a tie)."""
        return max(self.targets, key=lambda target: target[1])[0]

    @property
    def split(self) -> bool:
        """Whether more than one revision gets traffic."""
        return sum(1 for _, percent in self.targets if percent > 0) > 1

    def percent(self, revision: str) -> int:
        """The revision's percent of traffic (0 when it is not kept)."""
        return dict(self.targets).get(revision, 0)


def single(latest: str) -> TrafficPlan:
    """One revision with all traffic (a new component, or one never split)."""
    return TrafficPlan(latest, ((latest, 100),), latest)


def plan_traffic(
    latest: str,
    canary_percent: int | None,
    rolled_out: str | None,
    previous: str | None,
    ready: Mapping[str, bool],
) -> TrafficPlan:
    """The plan for a component whose latest revision is `latest`.

    `rolled_out` and `previous` are the status's `latestRolledoutRevision` and
    `previousRolledoutRevision`; `ready` maps each existing revision of the component to
    whether its Deployment is available.
    """
    if rolled_out is None or rolled_out == latest or rolled_out not in ready:
        kept_previous = previous if rolled_out == latest else rolled_out
        return TrafficPlan(latest, ((latest, 100),), latest, kept_previous)
    if not ready.get(latest, False):
        return TrafficPlan(latest, ((rolled_out, 100), (latest, 0)), rolled_out, previous)
    percent = 100 if canary_percent is None else canary_percent
    if percent >= 100:
        return TrafficPlan(latest, ((rolled_out, 0), (latest, 100)), latest, rolled_out)
    return TrafficPlan(
        latest, ((rolled_out, 100 - percent), (latest, percent)), rolled_out, previous
    )


def revision_fields(plan: TrafficPlan, ready: Mapping[str, bool], urls: Mapping[str, str]) -> Obj:
    """KServe's revision fields of `status.components.<part>`, traffic included.

    `urls` maps a revision to its Service's in-cluster URL.
    """
    latest_ready = next(
        (name for name in (plan.latest, plan.rolled_out) if ready.get(name, False)), None
    )
    fields: Obj = {
        "latestCreatedRevision": plan.latest,
        "latestReadyRevision": latest_ready,
        "latestRolledoutRevision": plan.rolled_out,
        "previousRolledoutRevision": plan.previous,
        "traffic": [
            {
                "revisionName": name,
                "percent": percent,
                "latestRevision": name == plan.latest,
                "url": urls[name],
            }
            for name, percent in plan.targets
            if percent > 0 or name == plan.latest
        ],
    }
    return {k: v for k, v in fields.items() if v is not None}
